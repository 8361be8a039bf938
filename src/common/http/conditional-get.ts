import { hash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Caching policy of the API: every response is `Cache-Control: no-store`
 * (set for all of them by one hook, see http-hardening.ts) unless a handler
 * opts in here. Only data anyone may see opts in, and only as `no-cache`: a
 * client or cache may keep it but must revalidate every time, so a rename or
 * delete shows at once and the service keeps no cache of its own.
 */
export const NO_STORE = 'no-store';

/** A flat view: what a revalidatable answer may be, so its validator can cover every field. */
export type FlatView<T> = { [K in keyof T]: string | number | boolean | Date | null };

/**
 * A strong validator of a flat view: a hash of every field's name and value
 * (dates by their instant), so any change of what is sent changes it. Cheaper
 * than hashing the serialized body, which formats each date first.
 */
export function etagOf<T extends FlatView<T>>(view: T): string {
  let fields = '';
  for (const [name, value] of Object.entries(view)) {
    fields += `${name}=${value instanceof Date ? value.getTime() : String(value)}\n`;
  }
  return `"${hash('sha256', fields, 'base64url').slice(0, 27)}"`;
}

/** If-None-Match compares weakly (RFC 9110, section 13.1.2): `W/"x"` matches `"x"`. */
export function ifNoneMatchHits(header: string | string[] | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const value = Array.isArray(header) ? header.join(',') : header;
  return value
    .split(',')
    .map((tag) => tag.trim().replace(/^W\//, ''))
    .some((tag) => tag === '*' || tag === etag);
}

/**
 * Sends `body` as public, revalidatable data: `ETag`, `Cache-Control:
 * no-cache`, and an empty 304 when the client's copy (If-None-Match) is
 * current. Returns the body to send, or undefined for the 304.
 */
export function revalidatable<T extends FlatView<T>>(
  request: FastifyRequest,
  reply: FastifyReply,
  body: T,
): T | undefined {
  const etag = etagOf(body);
  void reply.header('etag', etag).header('cache-control', 'no-cache');
  if (!ifNoneMatchHits(request.headers['if-none-match'], etag)) return body;
  void reply.status(304);
  return undefined;
}

/** Adds `field` to `Vary`, keeping what CORS (`Origin`) may have put there. */
export function varyOn(reply: FastifyReply, field: string): void {
  const current = reply.getHeader('vary');
  void reply.header('vary', current ? `${String(current)}, ${field}` : field);
}
