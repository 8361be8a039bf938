import { type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import {
  ACCEPTS_ENDED_SESSION_KEY,
  IS_OPTIONAL_AUTH_KEY,
  IS_PUBLIC_KEY,
  JWT_STRATEGY,
} from './auth.constants';
import { SessionEndedError } from './ended-session';
import { unauthorized } from './auth.service';

const EXPIRED = 'TokenExpiredError';

/**
 * Global guard: every route needs a valid bearer token unless marked
 * `@Public()`; `@OptionalAuth()` routes accept no token but not a bad one,
 * and `@AcceptsEndedSession()` routes also the token of an ended session.
 * The token itself is checked by `JwtStrategy`.
 */
@Injectable()
export class JwtAuthGuard extends AuthGuard(JWT_STRATEGY) {
  constructor(private readonly reflector: Reflector) {
    super();
  }

  override canActivate(context: ExecutionContext) {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, targets)) return true;
    const optional = this.reflector.getAllAndOverride<boolean>(IS_OPTIONAL_AUTH_KEY, targets);
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    if (optional && request.headers.authorization === undefined) return true;
    return super.canActivate(context);
  }

  override handleRequest<TUser>(
    err: unknown,
    user: TUser | false,
    info: unknown,
    context: ExecutionContext,
  ): TUser {
    if (
      err instanceof SessionEndedError &&
      this.reflector.getAllAndOverride<boolean>(ACCEPTS_ENDED_SESSION_KEY, [
        context.getHandler(),
        context.getClass(),
      ])
    ) {
      return err.session as TUser;
    }
    // Errors from the session checks (or a database outage) keep their meaning.
    if (err instanceof Error) throw err;
    if (err) throw unauthorized();
    if (!user) {
      const expired = info instanceof Error && info.name === EXPIRED;
      throw unauthorized(expired ? 'The token has expired; log in again.' : undefined);
    }
    return user;
  }
}
