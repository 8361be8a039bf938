import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import { authConfig, type AuthConfig } from '../config/configuration';
import { AdminsService } from './admins.service';

/**
 * Creates the operator account from SUPERADMIN_EMAIL / SUPERADMIN_PASSWORD,
 * rotates its password when that changed, and retires the previous operator
 * when the email changed (it can no longer log in and its tokens die at
 * once). Idempotent, and safe when several workers start at once (the unique
 * email index decides).
 *
 * An email that belongs to an organization admin stops the start with a
 * StartupRefusedError before anything changes: the previous operator stays.
 * Unsetting both variables leaves the operator account as it is.
 */
@Injectable()
export class SuperadminBootstrap implements OnApplicationBootstrap {
  private readonly logger = new Logger(SuperadminBootstrap.name);

  constructor(
    private readonly admins: AdminsService,
    private readonly audit: AuditService,
    @Inject(authConfig.KEY) private readonly config: AuthConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const wanted = this.config.superadmin;
    if (!wanted) return;
    const outcome = await this.admins.ensureSuperadmin(wanted.email, wanted.password);
    // The email is not a secret; the password is never logged.
    this.logger.log(`Super admin ${wanted.email}: ${outcome}`);
    for (const email of await this.admins.retireSuperadminsExcept(wanted.email)) {
      this.logger.warn(`Super admin ${email} retired: SUPERADMIN_EMAIL is now ${wanted.email}`);
      await this.audit.record(
        // No request: the start-up itself, from this host, is the actor.
        { actor: undefined, ip: 'startup', requestId: 'startup' },
        {
          action: 'admin.superadmin_retired',
          organizationId: null,
          actorEmail: email,
          details: { replaced_by: wanted.email },
        },
      );
    }
  }
}
