import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { LevelWithSilent } from 'pino';

const LOG_CONTEXT = Symbol('requestLogContext');

interface RequestLogContext {
  /** The matched route pattern, e.g. `/org/get`; absent for a 404. */
  route?: string;
  /** The client address as Fastify derived it, honouring TRUST_PROXY. */
  clientIp: string;
}

type RawRequest = IncomingMessage & { [LOG_CONTEXT]?: RequestLogContext };

/**
 * pino-http logs from Nest middleware, which sees only the raw Node request.
 * The route pattern and the proxy-aware client address are Fastify's to know,
 * so a hook copies them onto the raw request for the line written when the
 * response ends.
 */
export function registerRequestLogContext(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, _reply, done) => {
    (request.raw as RawRequest)[LOG_CONTEXT] = {
      route: request.routeOptions.url,
      clientIp: request.ip,
    };
    done();
  });
}

export interface RequestLogFields {
  method?: string;
  route: string | null;
  path: string;
  status: number;
  duration_ms: number;
  client_ip?: string;
  /** The client went away before the response was complete. */
  aborted?: true;
}

/**
 * The one line per request: what ops search by. No headers, no bodies and no
 * query string, so credentials and tokens cannot reach the log from here.
 */
export function requestLogFields(
  req: IncomingMessage,
  res: ServerResponse,
  durationMs: number,
): RequestLogFields {
  const context = (req as RawRequest)[LOG_CONTEXT];
  const fields: RequestLogFields = {
    method: req.method,
    route: context?.route ?? null,
    path: (req.url ?? '/').split('?')[0],
    status: res.statusCode,
    duration_ms: durationMs,
    client_ip: context?.clientIp ?? req.socket?.remoteAddress,
  };
  if (!res.writableFinished) fields.aborted = true;
  return fields;
}

const HEALTH_ROUTE = /^\/health(\/|$)/;

/**
 * 5xx are errors, 4xx warnings, the rest info; successful health checks
 * (every few seconds from each load balancer node) only at debug.
 */
export function requestLogLevel(
  req: IncomingMessage,
  res: ServerResponse,
  error?: Error,
): LevelWithSilent {
  if (error || res.statusCode >= 500) return 'error';
  if (res.statusCode >= 400) return 'warn';
  const route = (req as RawRequest)[LOG_CONTEXT]?.route;
  if (route !== undefined && HEALTH_ROUTE.test(route)) return 'debug';
  return 'info';
}
