import type { Types } from 'mongoose';
import { DomainError } from '../common/errors/domain.error';
import { ErrorCode } from '../common/errors/error-codes';

/**
 * A verified, unrevoked token whose organization is gone or being deleted,
 * or whose admin is gone: it proves who its holder was when the token was
 * issued, nothing more. Only a route marked `@AcceptsEndedSession()` is handed
 * one (the admins of a deleted organization reading that delete's operation
 * resource); everywhere else it is the same 401 as before.
 */
export interface EndedSession {
  readonly ended: true;
  adminId: Types.ObjectId;
  organizationId: Types.ObjectId;
  /** The credentials version the token was issued under. */
  credentialsVersion: number;
  tokenId: string;
}

/** The 401 of a session that ended, carrying what the token proves for the routes that take it. */
export class SessionEndedError extends DomainError {
  constructor(readonly session: EndedSession) {
    super(
      ErrorCode.UNAUTHORIZED,
      'The token refers to an admin or organization that no longer exists.',
    );
  }
}
