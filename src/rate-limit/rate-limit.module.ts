import { Module } from '@nestjs/common';
import { getOptionsToken, getStorageToken, type ThrottlerModuleOptions } from '@nestjs/throttler';
import type { FastifyRequest } from 'fastify';
import { securityConfig, type SecurityConfig } from '../config/configuration';
import { MongoThrottlerStorage } from './mongo-throttler.storage';
import { RateLimitGuard } from './rate-limit.guard';
import { activeLimits, routeOf } from './rate-limit.policy';

/**
 * Per-address rate limits: `@nestjs/throttler` configured from
 * RATE_LIMIT_*, with its counters in the master database so every worker and
 * instance counts against one limit. The guard itself is registered globally
 * by AppModule, which declares the order of all global guards.
 */
@Module({
  providers: [
    MongoThrottlerStorage,
    { provide: getStorageToken(), useExisting: MongoThrottlerStorage },
    {
      provide: getOptionsToken(),
      inject: [securityConfig.KEY],
      useFactory: (config: SecurityConfig): ThrottlerModuleOptions => ({
        // An IPv6 client counts by its network (RATE_LIMIT_IPV6_PREFIX, /64 by
        // default): one subscriber usually holds a whole /64, /56 or /48, and
        // its exact addresses would be 2^64 buckets.
        ipv6SubnetPrefix: config.ipv6Prefix,
        throttlers: activeLimits(config).map(({ name, limit, windowMs, route }) => ({
          name,
          limit,
          ttl: windowMs,
          skipIf: route
            ? (context) => {
                const matched = routeOf(context.switchToHttp().getRequest<FastifyRequest>());
                return matched.method !== route.method || matched.url !== route.url;
              }
            : undefined,
        })),
      }),
    },
    RateLimitGuard,
  ],
  exports: [RateLimitGuard],
})
export class RateLimitModule {}
