import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { IS_OPTIONAL_AUTH_KEY, IS_PUBLIC_KEY } from './auth.constants';
import type { AuthenticatedAdmin } from './authenticated-admin';

/** Opts a route out of the global JWT guard. */
export const Public = () => SetMetadata(IS_PUBLIC_KEY, true);

/** No token is fine; a token that is present must be valid. */
export const OptionalAuth = () => SetMetadata(IS_OPTIONAL_AUTH_KEY, true);

/** The admin the verified token belongs to (undefined on an anonymous optional-auth request). */
export const CurrentAdmin = createParamDecorator(
  (_data: unknown, ctx: ExecutionContext): AuthenticatedAdmin | undefined =>
    ctx.switchToHttp().getRequest<FastifyRequest & { user?: AuthenticatedAdmin }>().user,
);
