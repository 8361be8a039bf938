import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { authConfig, type AuthConfig } from '../config/configuration';
import { AdminsService } from './admins.service';

/**
 * Creates the operator account from SUPERADMIN_EMAIL / SUPERADMIN_PASSWORD,
 * or rotates its password when the variable changed. Idempotent, and safe
 * when several workers start at once (the unique email index decides).
 */
@Injectable()
export class SuperadminBootstrap implements OnApplicationBootstrap {
  private readonly logger = new Logger(SuperadminBootstrap.name);

  constructor(
    private readonly admins: AdminsService,
    @Inject(authConfig.KEY) private readonly config: AuthConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const wanted = this.config.superadmin;
    if (!wanted) return;
    const outcome = await this.admins.ensureSuperadmin(wanted.email, wanted.password);
    // The email is not a secret; the password is never logged.
    this.logger.log(`Super admin ${wanted.email}: ${outcome}`);
  }
}
