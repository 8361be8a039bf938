import type { OpenAPIObject } from '@nestjs/swagger';
import { PROBLEM_CONTENT_TYPE } from '../common/http/problem';
import { GLOBAL_THROTTLER, isUnthrottled, ROUTE_THROTTLERS } from '../rate-limit/rate-limit.policy';

type Operation = {
  responses: Record<string, { description?: string; headers?: Record<string, unknown> }>;
  security?: Array<Record<string, unknown>>;
};

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;
const PROBLEM = {
  [PROBLEM_CONTENT_TYPE]: { schema: { $ref: '#/components/schemas/ProblemDetailsDto' } },
};
const seconds = (description: string) => ({ description, schema: { type: 'integer', minimum: 0 } });

function limitHeaders(name: string): Record<string, unknown> {
  const suffix = name === GLOBAL_THROTTLER ? '' : `-${name}`;
  const which =
    name === GLOBAL_THROTTLER ? 'the per-address limit' : `the per-address ${name} limit`;
  return {
    [`X-RateLimit-Limit${suffix}`]: seconds(`Requests allowed per window by ${which}.`),
    [`X-RateLimit-Remaining${suffix}`]: seconds(`Requests left in the current window of ${which}.`),
    [`X-RateLimit-Reset${suffix}`]: seconds(`Seconds until the current window of ${which} ends.`),
  };
}

type SchemaNode = Record<string, unknown>;

/** Every component schema reachable from `node` through `$ref`s, `oneOf`/`anyOf`/`allOf`, items and properties. */
function referencedComponents(
  node: unknown,
  schemas: Record<string, SchemaNode>,
  seen: Set<string>,
): void {
  if (node === null || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    for (const item of node) referencedComponents(item, schemas, seen);
    return;
  }
  const ref = (node as { $ref?: unknown }).$ref;
  if (typeof ref === 'string' && ref.startsWith('#/components/schemas/')) {
    const name = ref.slice('#/components/schemas/'.length);
    if (!seen.has(name) && schemas[name]) {
      seen.add(name);
      referencedComponents(schemas[name], schemas, seen);
    }
    return;
  }
  for (const value of Object.values(node)) referencedComponents(value, schemas, seen);
}

/**
 * Response views are the only shape a document leaves the service in, field
 * for field (OWASP API3: nothing undocumented is exposed). Saying so makes the
 * views closed, which also keeps `oneOf` views apart: an owner view is not
 * also a valid public view.
 */
function closeResponseViews(document: OpenAPIObject): void {
  const schemas = (document.components?.schemas ?? {}) as Record<string, SchemaNode>;
  const views = new Set<string>();
  for (const item of Object.values(document.paths)) {
    for (const method of METHODS) {
      const operation = (item as Record<string, { responses?: unknown } | undefined>)[method];
      referencedComponents(operation?.responses, schemas, views);
    }
  }
  for (const name of views) {
    const schema = schemas[name];
    if (schema.type === 'object' && schema.additionalProperties === undefined) {
      schema.additionalProperties = false;
    }
  }
}

/**
 * Documents what the security layer adds to operations: 401 wherever a
 * bearer token is accepted and, on every throttled operation, the rate-limit
 * headers on success, 429 with `Retry-After` when a limit is hit, and 503
 * while the database is unreachable. Derived from the same policy the
 * guard enforces, so the document cannot drift from it. Headers are optional
 * because a limit can be switched off by configuration.
 */
export function documentHttpSecurity(document: OpenAPIObject): OpenAPIObject {
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const operation = (item as Record<string, Operation | undefined>)[method];
      if (!operation) continue;
      // The global JWT guard answers 401 wherever a token is accepted, even
      // where one is optional: a token that is sent must be valid.
      if (operation.security?.some((requirement) => 'bearer' in requirement)) {
        operation.responses['401'] ??= {
          description: 'UNAUTHORIZED: the bearer token is missing, invalid, expired or revoked.',
          content: PROBLEM,
        } as Operation['responses'][string];
      }
      if (isUnthrottled(path)) continue;
      const routeLimit = Object.values(ROUTE_THROTTLERS).find(
        (route) => route.url === path && route.method === method.toUpperCase(),
      );
      const headers = {
        ...limitHeaders(GLOBAL_THROTTLER),
        ...(routeLimit ? limitHeaders(routeLimit.name) : {}),
      };
      for (const [status, response] of Object.entries(operation.responses)) {
        if (status.startsWith('2')) response.headers = { ...response.headers, ...headers };
      }
      operation.responses['429'] ??= {
        description: routeLimit
          ? `TOO_MANY_REQUESTS: a per-address limit was hit${path === '/admin/login' ? ', or the account is locked after too many attempts' : ''}.`
          : 'TOO_MANY_REQUESTS: the per-address limit was hit.',
        headers: { 'Retry-After': seconds('Seconds to wait before retrying.') },
        content: PROBLEM,
      } as Operation['responses'][string];
      operation.responses['503'] ??= {
        description: 'SERVICE_UNAVAILABLE: the database is unreachable.',
        headers: { 'Retry-After': seconds('Seconds to wait before retrying.') },
        content: PROBLEM,
      } as Operation['responses'][string];
    }
  }
  closeResponseViews(document);
  return document;
}
