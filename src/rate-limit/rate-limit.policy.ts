import type { FastifyRequest } from 'fastify';
import type { SecurityConfig } from '../config/configuration';

/** A limit of `limit` events per `windowMs`, as configured. */
type RateLimit = NonNullable<SecurityConfig['rateLimits']['global']>;

/**
 * Which requests each limit counts, in one place so the guard, the OpenAPI
 * document and SECURITY.md agree. Limits are per client address (`req.ip`,
 * which honours TRUST_PROXY). `default` covers every route but health; the
 * named ones add a tighter limit on the two endpoints that cost a bcrypt
 * hash and are open to anyone.
 */
export interface RoutePolicy {
  /** Throttler name: response headers carry it as a suffix (`X-RateLimit-Remaining-login`). */
  name: string;
  method: string;
  url: string;
}

export const GLOBAL_THROTTLER = 'default';

export const ROUTE_THROTTLERS = {
  login: { name: 'login', method: 'POST', url: '/admin/login' },
  create: { name: 'create', method: 'POST', url: '/org/create' },
} as const satisfies Record<string, RoutePolicy>;

/** Liveness and readiness probes must never be refused for volume (nor need the database). */
export const UNTHROTTLED_PREFIXES = ['/health/'];

export function isUnthrottled(url: string): boolean {
  return UNTHROTTLED_PREFIXES.some((prefix) => url.startsWith(prefix));
}

/** The route a request matched (its pattern, not the raw URL). */
export function routeOf(request: FastifyRequest): { method: string; url: string } {
  return { method: request.method, url: request.routeOptions.url ?? request.url };
}

export interface ActiveLimit extends RateLimit {
  name: string;
  /** Undefined for the global limit, which applies to every throttled route. */
  route?: RoutePolicy;
}

/** The limits switched on by configuration. */
export function activeLimits(config: SecurityConfig): ActiveLimit[] {
  const limits: ActiveLimit[] = [];
  if (config.rateLimits.global)
    limits.push({ name: GLOBAL_THROTTLER, ...config.rateLimits.global });
  for (const key of ['login', 'create'] as const) {
    const limit = config.rateLimits[key];
    if (limit) limits.push({ name: key, route: ROUTE_THROTTLERS[key], ...limit });
  }
  return limits;
}
