import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { databaseConfig, type DatabaseConfig } from '../config/configuration';
import { OrganizationLifecycleService } from './organization-lifecycle.service';
import { OrphanCollector } from './orphan-collector';

/** Orphans are rarer than stale operations and cost a scan: every tenth sweep. */
const SWEEPS_PER_COLLECTION = 10;

/**
 * Runs repair once at start-up (before the port opens) and then every half
 * lease, so an operation orphaned by a crashed or frozen peer instance is
 * finished or undone without waiting for this instance to restart; and
 * collects what stalled processes left behind.
 */
@Injectable()
export class OperationRepairService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(OperationRepairService.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private sweeps = 0;

  constructor(
    private readonly lifecycle: OrganizationLifecycleService,
    private readonly orphans: OrphanCollector,
    @Inject(databaseConfig.KEY) private readonly config: DatabaseConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const repaired = await this.lifecycle.repairStale();
    if (repaired > 0) this.logger.warn(`Repaired ${repaired} interrupted operation(s) at start-up`);
    await this.orphans.collect();
    this.timer = setInterval(() => this.sweep(), Math.max(1000, this.config.operationLeaseMs / 2));
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  private sweep(): void {
    if (this.running) return;
    this.sweeps += 1;
    const collect = this.sweeps % SWEEPS_PER_COLLECTION === 0;
    this.running = this.lifecycle
      .repairStale()
      .then(() => (collect ? this.orphans.collect() : undefined))
      .catch((error: unknown) => this.logger.error({ err: error }, 'Repair sweep failed'))
      .finally(() => (this.running = undefined));
  }
}
