import {
  applyDecorators,
  createParamDecorator,
  ExecutionContext,
  SetMetadata,
} from '@nestjs/common';
import { ApiSecurity } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { ACCEPTS_ENDED_SESSION_KEY, IS_OPTIONAL_AUTH_KEY, IS_PUBLIC_KEY } from './auth.constants';
import type { AuthenticatedAdmin } from './authenticated-admin';

/** Opts a route out of the global JWT guard. */
export const Public = () => SetMetadata(IS_PUBLIC_KEY, true);

/**
 * No token is fine; a token that is present must be valid. The empty
 * security requirement it adds tells OpenAPI clients (and fuzzers) the same:
 * anonymous requests are allowed here.
 */
export const OptionalAuth = () =>
  applyDecorators(SetMetadata(IS_OPTIONAL_AUTH_KEY, true), ApiSecurity({}));

/**
 * A verified, unrevoked token whose organization or admin is gone still gets
 * in, as an `EndedSession`: the handler decides what, if anything, it may see.
 */
export const AcceptsEndedSession = () => SetMetadata(ACCEPTS_ENDED_SESSION_KEY, true);

/** The admin the verified token belongs to (undefined on an anonymous optional-auth request). */
export const CurrentAdmin = createParamDecorator(
  (_data: unknown, ctx: ExecutionContext): AuthenticatedAdmin | undefined =>
    ctx.switchToHttp().getRequest<FastifyRequest & { user?: AuthenticatedAdmin }>().user,
);
