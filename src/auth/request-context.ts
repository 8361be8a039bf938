import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { AuthenticatedAdmin } from './authenticated-admin';

/** Who did something, from where: passed explicitly to services that audit. */
export interface RequestContext {
  actor: AuthenticatedAdmin | undefined;
  /** The client address as resolved under TRUST_PROXY. */
  ip: string;
  requestId: string;
}

export const ReqContext = createParamDecorator(
  (_data: unknown, ctx: ExecutionContext): RequestContext => {
    const request = ctx.switchToHttp().getRequest<FastifyRequest & { user?: AuthenticatedAdmin }>();
    return { actor: request.user, ip: request.ip, requestId: String(request.id) };
  },
);
