import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { databaseConfig, type DatabaseConfig } from '../config/configuration';
import { OrganizationLifecycleService } from './organization-lifecycle.service';

/**
 * Runs repair once at start-up (before the port opens) and then every half
 * lease, so an operation orphaned by a crashed peer instance is finished or
 * undone without waiting for this instance to restart.
 */
@Injectable()
export class OperationRepairService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(OperationRepairService.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;

  constructor(
    private readonly lifecycle: OrganizationLifecycleService,
    @Inject(databaseConfig.KEY) private readonly config: DatabaseConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const repaired = await this.lifecycle.repairStale();
    if (repaired > 0) this.logger.warn(`Repaired ${repaired} interrupted operation(s) at start-up`);
    this.timer = setInterval(() => this.sweep(), Math.max(1000, this.config.operationLeaseMs / 2));
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  private sweep(): void {
    if (this.running) return;
    this.running = this.lifecycle
      .repairStale()
      .catch((error: unknown) => this.logger.error({ err: error }, 'Repair sweep failed'))
      .finally(() => (this.running = undefined));
  }
}
