import { hash } from 'node:crypto';
import { Injectable, type ExecutionContext } from '@nestjs/common';
import { ThrottlerGuard, type ThrottlerLimitDetail } from '@nestjs/throttler';
import type { FastifyRequest } from 'fastify';
import { tooManyRequests } from '../common/errors/domain.error';
import { isUnthrottled, routeOf } from './rate-limit.policy';

const ALLOWED = Promise.resolve(true);

/**
 * `@nestjs/throttler`'s guard with this service's conventions: health checks
 * are never counted, a limit is per client address across routes (not per
 * route; an IPv6 address by its network, see `ipv6SubnetPrefix` in
 * RateLimitModule), and a refusal is a TOO_MANY_REQUESTS problem with a standard
 * `Retry-After` header whichever limit was hit.
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  private limiting = false;

  override async onModuleInit(): Promise<void> {
    const throttlers = Array.isArray(this.options) ? this.options : this.options.throttlers;
    // Every limit switched off by configuration is a choice, not the
    // misconfiguration the base class warns about.
    if (throttlers.length === 0) this.throttlers = [];
    else await super.onModuleInit();
    this.limiting = this.throttlers.length > 0;
  }

  /** With every limit off, a request costs this one check: no route lookup, no metadata, no storage. */
  override canActivate(context: ExecutionContext): Promise<boolean> {
    return this.limiting ? super.canActivate(context) : ALLOWED;
  }

  protected override shouldSkip(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    return Promise.resolve(isUnthrottled(routeOf(request).url));
  }

  // Hashed: client addresses are personal data and need not sit in the database in clear.
  protected override generateKey(_context: ExecutionContext, tracker: string, name: string) {
    return hash('sha256', `${name}:${tracker}`, 'hex');
  }

  protected override throwThrottlingException(
    _context: ExecutionContext,
    detail: ThrottlerLimitDetail,
  ): Promise<void> {
    const seconds = detail.timeToBlockExpire;
    throw tooManyRequests(
      `Too many requests from your address; retry in ${seconds} second${seconds === 1 ? '' : 's'}.`,
      seconds,
    );
  }
}
