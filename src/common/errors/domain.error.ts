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

export const orgBusy = () =>
  new DomainError(
    ErrorCode.ORG_BUSY,
    'Another rename or delete of this organization is in progress; retry shortly.',
  );
