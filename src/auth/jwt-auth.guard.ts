import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { JwtService } from '@nestjs/jwt';
import type { FastifyRequest } from 'fastify';
import { IS_OPTIONAL_AUTH_KEY, IS_PUBLIC_KEY } from './auth.constants';
import { AuthService, unauthorized } from './auth.service';
import type { AccessTokenClaims, AuthenticatedAdmin } from './authenticated-admin';
import { bearerToken } from './bearer-token';

const EXPIRED = 'TokenExpiredError';

/**
 * Global guard: every route needs a valid bearer token unless marked
 * `@Public()`; `@OptionalAuth()` routes accept no token but not a bad one.
 *
 * The signature, algorithm (HS256 only), issuer, audience and expiry are
 * checked by JwtService with the options AuthModule registers; the claims
 * then have to describe a live session (AuthService.resolveSession). The
 * admin is left on `request.user` for `@CurrentAdmin()`.
 */
@Injectable()
export class JwtAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly jwt: JwtService,
    private readonly auth: AuthService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, targets)) return true;
    const optional = this.reflector.getAllAndOverride<boolean>(IS_OPTIONAL_AUTH_KEY, targets);
    const request = context
      .switchToHttp()
      .getRequest<FastifyRequest & { user?: AuthenticatedAdmin }>();
    if (optional && request.headers.authorization === undefined) return true;

    const token = bearerToken(request);
    if (!token) throw unauthorized();
    let claims: Partial<AccessTokenClaims>;
    try {
      claims = await this.jwt.verifyAsync<Partial<AccessTokenClaims>>(token);
    } catch (error) {
      const expired = error instanceof Error && error.name === EXPIRED;
      throw unauthorized(expired ? 'The token has expired; log in again.' : undefined);
    }
    // Errors from the session checks (or a database outage) keep their meaning.
    request.user = await this.auth.resolveSession(claims);
    return true;
  }
}
