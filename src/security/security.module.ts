import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { getOptionsToken, getStorageToken, type ThrottlerModuleOptions } from '@nestjs/throttler';
import type { FastifyRequest } from 'fastify';
import { securityConfig, type SecurityConfig } from '../config/configuration';
import { DatabaseAvailability } from './database-availability.service';
import { ExpiringCollections } from './expiring-collections.service';
import { LoginLockoutService } from './login-lockout.service';
import { MongoThrottlerStorage } from './mongo-throttler.storage';
import { RateLimitGuard } from './rate-limit.guard';
import { activeLimits, routeOf } from './rate-limit.policy';

/**
 * Abuse resistance: per-address rate limits (a global guard on
 * `@nestjs/throttler` with a MongoDB storage), the per-account login
 * lock-out, the short-lived collections behind both, and the database
 * reachability that lets requests fail fast during an outage. The HTTP-level
 * pieces (headers, body and query limits) are applied by `applyHttpSecurity`.
 */
@Module({
  providers: [
    ExpiringCollections,
    DatabaseAvailability,
    LoginLockoutService,
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
    { provide: APP_GUARD, useClass: RateLimitGuard },
  ],
  exports: [ExpiringCollections, LoginLockoutService, DatabaseAvailability],
})
export class SecurityModule {}
