import { HttpException, HttpStatus } from '@nestjs/common';
import { isDuplicateKeyError, isUnreachableError } from '../errors/mongo-errors';
import { DomainError, FieldError } from '../errors/domain.error';
import { ERROR_STATUS, ErrorCode } from '../errors/error-codes';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  code: string;
  request_id: string;
  errors?: FieldError[];
}

/** What the mapping decided, before the request-specific fields are added. */
export interface ProblemShape {
  code: ErrorCode;
  status: number;
  detail: string;
  errors?: FieldError[];
  /** Headers the error carries (`retry-after`), set on the response. */
  headers?: Record<string, string>;
  /** True when the cause is unknown to us and must be logged with its stack. */
  unexpected?: boolean;
}

const STATUS_CODES: Partial<Record<number, ErrorCode>> = {
  400: ErrorCode.MALFORMED_REQUEST,
  401: ErrorCode.UNAUTHORIZED,
  403: ErrorCode.FORBIDDEN,
  404: ErrorCode.NOT_FOUND,
  405: ErrorCode.METHOD_NOT_ALLOWED,
  409: ErrorCode.CONFLICT,
  413: ErrorCode.PAYLOAD_TOO_LARGE,
  415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
  429: ErrorCode.TOO_MANY_REQUESTS,
  503: ErrorCode.SERVICE_UNAVAILABLE,
};

/** Fastify's own errors, whose messages are safe and useful to a client. */
const FASTIFY_DETAILS: Record<string, string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'The request body is not valid JSON.',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'The request declares JSON but has an empty body.',
  FST_ERR_CTP_BODY_TOO_LARGE: 'The request body exceeds the 100 kB limit.',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'Send the request body as application/json.',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'The Content-Length header does not match the body.',
  FST_ERR_BAD_URL: 'The request URL is malformed.',
};

interface ErrorLike {
  name?: string;
  code?: unknown;
  statusCode?: unknown;
  message?: string;
}

function fromCode(code: ErrorCode, detail: string, errors?: FieldError[]): ProblemShape {
  return { code, status: ERROR_STATUS[code].status, detail, errors };
}

/** Fastify's own client error (4xx), also when Nest's adapter wrapped it as its cause. */
function fastifyDetail(error: unknown): string | undefined {
  const code = (error as ErrorLike | undefined)?.code;
  return typeof code === 'string' ? FASTIFY_DETAILS[code] : undefined;
}

function fromHttpException(error: HttpException): ProblemShape {
  const status = error.getStatus();
  const body = error.getResponse();
  const code =
    STATUS_CODES[status] ??
    (status >= 500 ? ErrorCode.INTERNAL_ERROR : ErrorCode.MALFORMED_REQUEST);
  // A server fault, whoever raised it, is described generically and logged;
  // 503 is the expected answer of an outage (readiness), not a fault of ours.
  if (status >= 500) {
    return {
      code,
      status,
      detail: ERROR_STATUS[code].title + '.',
      unexpected: status !== 503,
    };
  }
  const fastify = fastifyDetail(error.cause);
  if (fastify) return { code, status, detail: fastify };
  // Nest's built-in exceptions carry a safe client message; anything 5xx is
  // described generically so no internal detail leaks.
  const message =
    typeof body === 'string'
      ? body
      : typeof (body as { message?: unknown }).message === 'string'
        ? (body as { message: string }).message
        : error.message;
  return { code, status, detail: message };
}

/**
 * Maps any thrown value to the problem it means for the client. This is the
 * only place that knows how errors become HTTP.
 */
export function describeError(error: unknown): ProblemShape {
  if (error instanceof DomainError) {
    return { ...fromCode(error.code, error.message, error.fieldErrors), headers: error.headers };
  }
  if (error instanceof HttpException) return fromHttpException(error);

  const e = (error ?? {}) as ErrorLike;
  if (
    typeof e.code === 'string' &&
    e.code.startsWith('FST_') &&
    typeof e.statusCode === 'number' &&
    e.statusCode < 500
  ) {
    const status = e.statusCode;
    const code = STATUS_CODES[status] ?? ErrorCode.MALFORMED_REQUEST;
    return { code, status, detail: FASTIFY_DETAILS[e.code] ?? ERROR_STATUS[code].title + '.' };
  }
  if (error instanceof SyntaxError && typeof e.statusCode === 'number' && e.statusCode === 400) {
    return fromCode(ErrorCode.MALFORMED_REQUEST, FASTIFY_DETAILS.FST_ERR_CTP_INVALID_JSON_BODY);
  }
  if (isDuplicateKeyError(error)) {
    // Never echo the duplicated key: it may be another tenant's data.
    return fromCode(ErrorCode.CONFLICT, 'The request conflicts with existing data.');
  }
  if (isUnreachableError(e)) {
    return fromCode(
      ErrorCode.SERVICE_UNAVAILABLE,
      'The database is temporarily unavailable; retry shortly.',
    );
  }
  return {
    ...fromCode(ErrorCode.INTERNAL_ERROR, 'An unexpected error occurred.'),
    status: HttpStatus.INTERNAL_SERVER_ERROR,
    unexpected: true,
  };
}

export function toProblem(shape: ProblemShape, instance: string, requestId: string): Problem {
  const problem: Problem = {
    type: `urn:problem-type:${shape.code.toLowerCase().replace(/_/g, '-')}`,
    title: ERROR_STATUS[shape.code].title,
    status: shape.status,
    detail: shape.detail,
    instance,
    code: shape.code,
    request_id: requestId,
  };
  if (shape.errors?.length) problem.errors = shape.errors;
  return problem;
}
