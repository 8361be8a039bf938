import type { SecurityHeadersOptions } from '@nestjs/common';
import { resolveSecurityHeaders } from '@nestjs/core/security/security-headers.js';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError } from '../common/errors/domain.error';
import { sendProblem } from '../common/filters/problem-details.filter';
import { NO_STORE } from '../common/http/conditional-get';
import { REQUEST_ID_HEADER } from '../common/http/request-id';
import { ErrorCode } from '../common/errors/error-codes';
import { DOCS_PATH, REDOC_PATH } from '../docs/api-docs';
import { DatabaseAvailability } from '../database/database-availability.service';
import { GLOBAL_THROTTLER, isUnthrottled, ROUTE_THROTTLERS } from '../rate-limit/rate-limit.policy';
import { checkQueryString, parseJsonBody } from './request-hardening';

/**
 * The API answers JSON only, so its pages may load nothing, be framed by
 * nobody and submit nowhere.
 */
const API_CONTENT_SECURITY_POLICY = {
  useDefaults: false,
  directives: {
    defaultSrc: ["'none'"],
    baseUri: ["'none'"],
    formAction: ["'none'"],
    frameAncestors: ["'none'"],
  },
};

const SECURITY_HEADERS: SecurityHeadersOptions = {
  contentSecurityPolicy: API_CONTENT_SECURITY_POLICY,
  xFrameOptions: { action: 'deny' },
  // Sent per request instead (below): only an answer that travelled over TLS
  // may carry it (RFC 6797, section 7.2).
  strictTransportSecurity: false,
};

/** One year, subdomains included: the values Nest would send by default. */
const STRICT_TRANSPORT_SECURITY = 'max-age=31536000; includeSubDomains';

/**
 * HSTS for a request that came over TLS: TLS terminates at the load
 * balancer, so that is X-Forwarded-Proto: https, which Fastify believes only
 * from a trusted proxy (TRUST_PROXY); a client's own header is ignored.
 */
function addStrictTransportSecurity(request: FastifyRequest, reply: FastifyReply): void {
  if (request.protocol === 'https')
    void reply.header('strict-transport-security', STRICT_TRANSPORT_SECURITY);
}

/**
 * Swagger UI and ReDoc: scripts from this origin only; both inject inline
 * styles, ReDoc draws its logo from data: URIs and runs a blob: worker.
 */
export const DOCS_CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "base-uri 'none'",
  "connect-src 'self'",
  "font-src 'self' data:",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "img-src 'self' data:",
  "object-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "worker-src 'self' blob:",
].join('; ');

const DOCS_PREFIXES = [`/${DOCS_PATH}`, REDOC_PATH];

const isDocs = (path: string) =>
  DOCS_PREFIXES.some((prefix) => path === prefix || path.startsWith(`${prefix}/`)) ||
  path === `/${DOCS_PATH}-json`;

const pathOf = (request: FastifyRequest) => request.url.split('?')[0];

/** Rate-limit headers a browser client on another origin may read (CORS `exposedHeaders`). */
export const RATE_LIMIT_RESPONSE_HEADERS = [
  GLOBAL_THROTTLER,
  ...Object.values(ROUTE_THROTTLERS).map((t) => t.name),
].flatMap((name) => {
  const suffix = name === GLOBAL_THROTTLER ? '' : `-${name}`;
  return ['Limit', 'Remaining', 'Reset'].map((part) => `X-RateLimit-${part}${suffix}`);
});

const FRAMEWORK_ERROR_HEADERS = resolveSecurityHeaders(SECURITY_HEADERS).headers;

/**
 * Fastify's `frameworkErrors`: a URL the router cannot even decode (400)
 * never reaches a hook or Nest's exception layer, so it is answered here, with
 * the same problem+json body and headers as every other error.
 */
export function answerFrameworkError(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  // No HSTS here: Fastify hands this handler a request that does not consult
  // TRUST_PROXY, so whether it came over TLS is unknown. Every other answer
  // carries it.
  for (const [name, value] of FRAMEWORK_ERROR_HEADERS) void reply.header(name, value);
  void reply.header(REQUEST_ID_HEADER, request.id);
  sendProblem(error, request, reply);
}

/**
 * Security headers, `Cache-Control: no-store` by default, JSON-only bodies with limits, query-string checks, 405
 * for a known path with the wrong method, and 503 without waiting while the
 * database is unreachable. Call before the docs are set up and before
 * `init()`: the route table and the body parsers must be in place before the
 * routes are.
 */
export function applyHttpSecurity(app: NestFastifyApplication): void {
  app.useSecurityHeaders(SECURITY_HEADERS);

  const fastify = app.getHttpAdapter().getInstance();
  // Replaces Nest's JSON parser, and refuses form bodies outright: an HTML
  // form on any site can post those cross-origin without a CORS preflight.
  app.useBodyParser(
    'application/json',
    { bodyLimit: fastify.initialConfig.bodyLimit },
    (request, body, done) => {
      try {
        done(null, parseJsonBody(request.headers['content-type'], body));
      } catch (error) {
        done(error as Error, undefined);
      }
    },
  );
  app.useBodyParser('application/x-www-form-urlencoded', {}, (_request, _body, done) =>
    done(
      new DomainError(
        ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        'Send the request body as application/json.',
      ),
      undefined,
    ),
  );

  const routes = new RouteTable();
  fastify.addHook('onRoute', (route) => routes.add(route.url, [route.method].flat()));

  const availability = app.get(DatabaseAvailability);
  fastify.addHook('onRequest', (request, reply, done) => {
    const path = pathOf(request);
    addStrictTransportSecurity(request, reply);
    try {
      // The API's default: nothing is stored anywhere (private data, tokens);
      // a handler opts a public response in (conditional-get.ts). The docs
      // keep their own caching.
      if (isDocs(path)) void reply.header('content-security-policy', DOCS_CONTENT_SECURITY_POLICY);
      else void reply.header('cache-control', NO_STORE);
      checkQueryString(request);
      const allowed = request.is404 ? routes.methodsFor(path) : [];
      if (allowed.length > 0) {
        throw new DomainError(
          ErrorCode.METHOD_NOT_ALLOWED,
          `${request.method} is not supported here; use ${allowed.join(', ')}.`,
          undefined,
          { allow: allowed.join(', ') },
        );
      }
      if (!availability.isReachable && !isUnthrottled(path) && !isDocs(path)) {
        throw new DomainError(
          ErrorCode.SERVICE_UNAVAILABLE,
          'The database is temporarily unavailable; retry shortly.',
          undefined,
          { 'retry-after': '5' },
        );
      }
      done();
    } catch (error) {
      done(error as Error);
    }
  });
}

/**
 * The methods each path answers, for the `Allow` header of a 405. Fastify's
 * router reports only "no route" for a known path with another method.
 * Parameters match one path segment; wildcard routes (static files) are left
 * to their own 404.
 */
class RouteTable {
  private readonly routes: Array<{ pattern: RegExp; methods: Set<string> }> = [];

  add(url: string, methods: string[]): void {
    if (url.includes('*')) return;
    const source = url
      .split('/')
      .map((segment) =>
        segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
      )
      .join('/');
    const pattern = new RegExp(`^${source}/?$`);
    const existing = this.routes.find((route) => route.pattern.source === pattern.source);
    const target = existing?.methods ?? new Set<string>();
    for (const method of methods) target.add(method);
    if (!existing) this.routes.push({ pattern, methods: target });
  }

  methodsFor(path: string): string[] {
    const methods = new Set<string>();
    for (const route of this.routes) {
      if (route.pattern.test(path)) for (const method of route.methods) methods.add(method);
    }
    return [...methods].sort();
  }
}
