import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from 'pino';

/** What the code handling one request logs through: its id, and a child logger made on first use. */
class RequestLogScope {
  child?: Logger;

  constructor(readonly requestId: string) {}
}

const scopes = new AsyncLocalStorage<RequestLogScope>();

/**
 * Runs `next` (the rest of Fastify's request lifecycle) with the request's
 * log scope bound. Binding costs one small object; the child logger that
 * stamps `request_id` is built only if something logs while handling the
 * request, which most requests never do.
 */
export function runInRequestLogScope(requestId: string, next: () => void): void {
  scopes.run(new RequestLogScope(requestId), next);
}

/** `root`, or the current request's child of it carrying `request_id`. */
export function scopedLogger(root: Logger): Logger {
  const scope = scopes.getStore();
  if (!scope) return root;
  scope.child ??= root.child({ request_id: scope.requestId });
  return scope.child;
}
