import { HttpStatus } from '@nestjs/common';

/**
 * Stable machine-readable error codes. Clients branch on `code`; titles and
 * details may be reworded, codes never are.
 */
export const ErrorCode = {
  VALIDATION_FAILED: 'VALIDATION_FAILED',
  MALFORMED_REQUEST: 'MALFORMED_REQUEST',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  UNAUTHORIZED: 'UNAUTHORIZED',
  INVALID_CREDENTIALS: 'INVALID_CREDENTIALS',
  FORBIDDEN: 'FORBIDDEN',
  WRONG_PASSWORD: 'WRONG_PASSWORD',
  NOT_FOUND: 'NOT_FOUND',
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  ORG_NOT_FOUND: 'ORG_NOT_FOUND',
  ORG_NAME_TAKEN: 'ORG_NAME_TAKEN',
  EMAIL_TAKEN: 'EMAIL_TAKEN',
  ORG_BUSY: 'ORG_BUSY',
  LAST_OWNER: 'LAST_OWNER',
  ADMIN_NOT_FOUND: 'ADMIN_NOT_FOUND',
  MEMBER_NOT_FOUND: 'MEMBER_NOT_FOUND',
  MEMBER_EMAIL_TAKEN: 'MEMBER_EMAIL_TAKEN',
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
  IDEMPOTENCY_IN_PROGRESS: 'IDEMPOTENCY_IN_PROGRESS',
  CONFLICT: 'CONFLICT',
  OPERATION_INTERRUPTED: 'OPERATION_INTERRUPTED',
  OPERATION_NOT_FOUND: 'OPERATION_NOT_FOUND',
  WRITE_OUTCOME_UNKNOWN: 'WRITE_OUTCOME_UNKNOWN',
  TOO_MANY_REQUESTS: 'TOO_MANY_REQUESTS',
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  ORG_CLUSTER_NOT_CONFIGURED: 'ORG_CLUSTER_NOT_CONFIGURED',
  INTERNAL_ERROR: 'INTERNAL_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export const ERROR_STATUS: Record<ErrorCode, { status: HttpStatus; title: string }> = {
  VALIDATION_FAILED: { status: HttpStatus.BAD_REQUEST, title: 'Validation failed' },
  MALFORMED_REQUEST: { status: HttpStatus.BAD_REQUEST, title: 'Malformed request' },
  PAYLOAD_TOO_LARGE: { status: HttpStatus.PAYLOAD_TOO_LARGE, title: 'Payload too large' },
  UNSUPPORTED_MEDIA_TYPE: {
    status: HttpStatus.UNSUPPORTED_MEDIA_TYPE,
    title: 'Unsupported media type',
  },
  UNAUTHORIZED: { status: HttpStatus.UNAUTHORIZED, title: 'Authentication required' },
  INVALID_CREDENTIALS: { status: HttpStatus.UNAUTHORIZED, title: 'Invalid credentials' },
  FORBIDDEN: { status: HttpStatus.FORBIDDEN, title: 'Forbidden' },
  WRONG_PASSWORD: { status: HttpStatus.FORBIDDEN, title: 'Current password is incorrect' },
  NOT_FOUND: { status: HttpStatus.NOT_FOUND, title: 'Not found' },
  METHOD_NOT_ALLOWED: { status: HttpStatus.METHOD_NOT_ALLOWED, title: 'Method not allowed' },
  ORG_NOT_FOUND: { status: HttpStatus.NOT_FOUND, title: 'Organization not found' },
  ORG_NAME_TAKEN: { status: HttpStatus.CONFLICT, title: 'Organization name taken' },
  EMAIL_TAKEN: { status: HttpStatus.CONFLICT, title: 'Email taken' },
  ORG_BUSY: { status: HttpStatus.CONFLICT, title: 'Organization busy' },
  LAST_OWNER: { status: HttpStatus.CONFLICT, title: 'Last owner' },
  ADMIN_NOT_FOUND: { status: HttpStatus.NOT_FOUND, title: 'Admin not found' },
  MEMBER_NOT_FOUND: { status: HttpStatus.NOT_FOUND, title: 'Member not found' },
  MEMBER_EMAIL_TAKEN: { status: HttpStatus.CONFLICT, title: 'Member email taken' },
  IDEMPOTENCY_KEY_REUSED: {
    status: HttpStatus.UNPROCESSABLE_ENTITY,
    title: 'Idempotency key reused with a different request',
  },
  IDEMPOTENCY_IN_PROGRESS: {
    status: HttpStatus.CONFLICT,
    title: 'A request with this idempotency key is still in progress',
  },
  CONFLICT: { status: HttpStatus.CONFLICT, title: 'Conflict' },
  OPERATION_INTERRUPTED: {
    status: HttpStatus.SERVICE_UNAVAILABLE,
    title: 'Operation taken over by recovery',
  },
  OPERATION_NOT_FOUND: { status: HttpStatus.NOT_FOUND, title: 'Operation not found' },
  WRITE_OUTCOME_UNKNOWN: {
    status: HttpStatus.SERVICE_UNAVAILABLE,
    title: 'Write outcome unknown',
  },
  TOO_MANY_REQUESTS: { status: HttpStatus.TOO_MANY_REQUESTS, title: 'Too many requests' },
  SERVICE_UNAVAILABLE: { status: HttpStatus.SERVICE_UNAVAILABLE, title: 'Service unavailable' },
  ORG_CLUSTER_NOT_CONFIGURED: {
    status: HttpStatus.SERVICE_UNAVAILABLE,
    title: "The organization's database cluster is not configured",
  },
  INTERNAL_ERROR: { status: HttpStatus.INTERNAL_SERVER_ERROR, title: 'Internal server error' },
};
