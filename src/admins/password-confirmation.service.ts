import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import type { AuthenticatedAdmin } from '../auth/authenticated-admin';
import { DomainError } from '../common/errors/domain.error';
import { ErrorCode } from '../common/errors/error-codes';
import type { RequestContext } from '../auth/request-context';
import { LoginLockoutService } from '../auth/login-lockout.service';
import { AdminsService } from './admins.service';

/**
 * A signed-in admin's password, checked again before a sensitive change
 * (`current_password`). A stolen token must not become a password oracle:
 * each check counts against the same per-account lock-out as a login (429
 * with `Retry-After` once the account is locked, even for the right
 * password, and without a bcrypt run), and every wrong password is audited.
 * Every password check that takes input from a request goes through here or
 * through the login.
 */
@Injectable()
export class PasswordConfirmation {
  constructor(
    private readonly admins: AdminsService,
    private readonly lockout: LoginLockoutService,
    private readonly audit: AuditService,
  ) {}

  /** Resolves when `password` is `admin`'s; throws 429 while locked, WRONG_PASSWORD (audited) when wrong. */
  async confirm(
    context: RequestContext,
    admin: AuthenticatedAdmin,
    password: string,
  ): Promise<void> {
    const attempt = await this.lockout.admit(admin.email);
    if (await this.admins.verifyPassword(admin.adminId, password)) {
      await this.lockout.succeeded(attempt);
      return;
    }
    await this.audit.record(context, {
      action: 'admin.password_check_failed',
      organizationId: admin.organizationId,
    });
    throw new DomainError(ErrorCode.WRONG_PASSWORD, 'current_password is incorrect.');
  }
}
