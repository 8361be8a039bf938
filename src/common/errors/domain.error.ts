import { ErrorCode } from './error-codes';

export interface FieldError {
  field: string;
  message: string;
}

/**
 * The one error type services throw. It carries a stable code and a message
 * safe to show a client; the HTTP mapping lives in the global filter only.
 */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly fieldErrors?: FieldError[],
    /** Response headers that belong to the error, such as `retry-after`. */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const orgNotFound = (name?: string) =>
  new DomainError(
    ErrorCode.ORG_NOT_FOUND,
    name === undefined ? 'Organization not found.' : `No organization is named "${name}".`,
  );

/** 429 with the `Retry-After` a client needs to back off correctly. */
export const tooManyRequests = (message: string, retryAfterSeconds: number) =>
  new DomainError(ErrorCode.TOO_MANY_REQUESTS, message, undefined, {
    'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))),
  });

export const orgBusy = () =>
  new DomainError(
    ErrorCode.ORG_BUSY,
    'Another rename, move or delete of this organization is in progress; retry shortly.',
  );

/**
 * This instance stalled past its operation's lease and recovery (here or on
 * another instance) took the operation over: nothing more was changed from
 * here, and the organization's current state tells the outcome.
 */
export const operationInterrupted = () =>
  new DomainError(
    ErrorCode.OPERATION_INTERRUPTED,
    'This operation stalled past its lease and was taken over by recovery; read the organization to see its outcome.',
    undefined,
    { 'retry-after': '1' },
  );

/**
 * A tenant write reached the database but a rename or delete started before
 * it could be confirmed as safe, so whether it survives is unknown.
 */
export const writeOutcomeUnknown = () =>
  new DomainError(
    ErrorCode.WRITE_OUTCOME_UNKNOWN,
    'The organization started a rename or delete while this write was in flight; read it back before retrying.',
    undefined,
    { 'retry-after': '1' },
  );
