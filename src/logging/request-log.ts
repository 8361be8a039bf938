import type { FastifyReply, FastifyRequest } from 'fastify';
import type { LevelWithSilent } from 'pino';

export interface RequestLogFields {
  request_id: string;
  method: string;
  /** The matched route pattern, e.g. `/org/get`; null for a 404. */
  route: string | null;
  path: string;
  status: number;
  duration_ms: number;
  /** The client address as Fastify derived it, honouring TRUST_PROXY. */
  client_ip: string;
  /** The client went away before the response was complete. */
  aborted?: true;
}

/**
 * The one line per request: what ops search by. No headers, no bodies and no
 * query string, so credentials and tokens cannot reach the log from here,
 * which is why this line is written without the redaction pass that guards
 * objects logged by hand (see logger-options.ts).
 */
export function requestLogFields(
  request: FastifyRequest,
  reply: FastifyReply,
  aborted: boolean,
): RequestLogFields {
  const fields: RequestLogFields = {
    request_id: request.id,
    method: request.method,
    route: request.routeOptions.url ?? null,
    path: pathOf(request),
    status: reply.statusCode,
    duration_ms: Math.round(reply.elapsedTime),
    client_ip: request.ip,
  };
  if (aborted) fields.aborted = true;
  return fields;
}

export function requestLogMessage(request: FastifyRequest, reply: FastifyReply): string {
  return `${request.method} ${pathOf(request)} ${reply.statusCode}`;
}

const pathOf = (request: FastifyRequest) => request.url.split('?')[0];

const HEALTH_ROUTE = /^\/health(\/|$)/;

/**
 * 5xx are errors, 4xx warnings, the rest info; successful health checks
 * (every few seconds from each load balancer node) only at debug.
 */
export function requestLogLevel(route: string | undefined, status: number): LevelWithSilent {
  if (status >= 500) return 'error';
  if (status >= 400) return 'warn';
  if (route !== undefined && HEALTH_ROUTE.test(route)) return 'debug';
  return 'info';
}
