import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyRequest } from 'fastify';
import { DomainError } from '../common/errors/domain.error';
import { ErrorCode } from '../common/errors/error-codes';
import { PROBLEM_CONTENT_TYPE, toProblem } from '../common/http/problem';

/**
 * Limits on what a request may carry, beyond what the DTOs validate. They
 * give hostile input a clear 400/415 before it reaches class-transformer,
 * the validators or a query, and make prototype pollution impossible by
 * construction: no key that could reach an object's prototype gets past the
 * parser.
 */
export const MAX_JSON_DEPTH = 32;
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set([
  '__proto__',
  'constructor',
  'prototype',
]);

const malformed = (detail: string) => new DomainError(ErrorCode.MALFORMED_REQUEST, detail);

/** A JSON body: UTF-8 (RFC 8259), then parsed and walked by {@link checkJsonValue}. */
export function parseJsonBody(contentType: string | undefined, body: Buffer): unknown {
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType ?? '')?.[1];
  if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
    throw new DomainError(
      ErrorCode.UNSUPPORTED_MEDIA_TYPE,
      `JSON must be sent as UTF-8, not ${charset.slice(0, 40)}.`,
    );
  }
  if (body.length === 0) throw malformed('The request declares JSON but has an empty body.');
  if (!isUtf8(body)) throw malformed('The request body is not valid UTF-8.');
  let value: unknown;
  try {
    // JSON.parse defines "__proto__" as an own property instead of setting the
    // prototype; the walk below then refuses it.
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw malformed('The request body is not valid JSON.');
  }
  checkJsonValue(value);
  return value;
}

/**
 * Refuses nesting deeper than {@link MAX_JSON_DEPTH}, NUL characters, keys
 * that name a prototype, and numbers a JavaScript number cannot hold exactly.
 * Iterative, so no input can exhaust the stack.
 */
export function checkJsonValue(root: unknown): void {
  const stack: Array<{ value: unknown; depth: number }> = [{ value: root, depth: 0 }];
  while (stack.length > 0) {
    const { value, depth } = stack.pop()!;
    if (typeof value === 'string') {
      if (value.includes('\u0000')) throw malformed('Strings may not contain NUL characters.');
    } else if (typeof value === 'number') {
      if (!Number.isFinite(value) || (Number.isInteger(value) && !Number.isSafeInteger(value))) {
        throw malformed('Numbers must lie between -(2^53 - 1) and 2^53 - 1.');
      }
    } else if (value !== null && typeof value === 'object') {
      if (depth >= MAX_JSON_DEPTH) {
        throw malformed(`The JSON body nests deeper than ${MAX_JSON_DEPTH} levels.`);
      }
      for (const [key, child] of Object.entries(value)) {
        if (FORBIDDEN_KEYS.has(key)) throw malformed(`The key "${key}" is not allowed.`);
        if (key.includes('\u0000')) throw malformed('Keys may not contain NUL characters.');
        stack.push({ value: child, depth: depth + 1 });
      }
    }
  }
}

/**
 * The query string, checked before Fastify's parser hands it to a DTO:
 * valid UTF-8 percent-encoding, no NUL, no prototype keys, and every
 * parameter at most once (a repeated one would arrive as an array, or win
 * silently in other stacks; better to say so).
 */
export function checkQueryString(request: FastifyRequest): void {
  const url = request.raw.url ?? request.url;
  const start = url.indexOf('?');
  if (start < 0) return;
  const seen = new Set<string>();
  for (const pair of url.slice(start + 1).split('&')) {
    if (pair === '') continue;
    const separator = pair.indexOf('=');
    const rawKey = separator < 0 ? pair : pair.slice(0, separator);
    const rawValue = separator < 0 ? '' : pair.slice(separator + 1);
    const key = decodeQueryComponent(rawKey);
    const value = decodeQueryComponent(rawValue);
    if (key.includes('\u0000') || value.includes('\u0000')) {
      throw malformed('The query string may not contain NUL characters.');
    }
    if (FORBIDDEN_KEYS.has(key)) throw malformed(`The query parameter "${key}" is not allowed.`);
    if (seen.has(key)) {
      const field = key.slice(0, 64);
      throw new DomainError(
        ErrorCode.VALIDATION_FAILED,
        `The query parameter "${field}" appears more than once.`,
        [{ field, message: `${field} may appear only once` }],
      );
    }
    seen.add(key);
  }
}

function decodeQueryComponent(component: string): string {
  try {
    return decodeURIComponent(component.replace(/\+/g, ' '));
  } catch {
    throw malformed('The query string is not valid UTF-8 percent-encoding.');
  }
}

/**
 * Fastify's `clientErrorHandler`: Node rejected the request before Fastify
 * saw it (headers over 16 kB, a malformed request line). Answers with the
 * same problem+json shape as every other error, then closes the connection,
 * as Node's own handler does.
 */
export function writeClientErrorProblem(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  if (!socket.writable) {
    socket.destroy(error);
    return;
  }
  const [status, detail] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'The request headers (including the URL) exceed the 16 kB limit.']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'The request took too long to arrive.']
        : [400, 'The request is not valid HTTP.'];
  const body = JSON.stringify(
    toProblem({ code: ErrorCode.MALFORMED_REQUEST, status, detail }, '/', randomUUID()),
  );
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
      `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
}
