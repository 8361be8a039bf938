import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, trusted } from 'mongoose';
import { databaseConfig, type DatabaseConfig } from '../../config/configuration';
import type { OrganizationRecord } from '../organizations.repository';
import { Organization, PendingOperation } from '../schemas/organization.schema';
import { CreateOrganizationOperation } from './create-organization.operation';
import { DeleteOrganizationOperation } from './delete-organization.operation';
import { OperationHooks } from './operation-hooks';
import { OperationLedger, type OperationLease, type Outcome } from './operation-ledger';
import { OperationRecords } from './operation-records';
import { OrphanCollector } from './orphan-collector';
import { MoveOrganizationOperation } from './move-organization.operation';
import { RenameOrganizationOperation } from './rename-organization.operation';

/** Orphans are rarer than stale operations and cost a scan: every tenth sweep. */
const SWEEPS_PER_COLLECTION = 10;

/**
 * Finishes or undoes every operation whose lease ran out (its process died,
 * or froze past the lease): once at start-up, before the port opens, and
 * then every half lease, so a crashed or frozen peer instance's operation is
 * mended without waiting for a restart. Safe on several instances at once:
 * each claim takes a new fencing token, which exactly one claimant wins.
 */
@Injectable()
export class OperationRepairService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(OperationRepairService.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private sweeps = 0;

  constructor(
    @InjectModel(Organization.name) private readonly organizations: Model<Organization>,
    private readonly ledger: OperationLedger,
    private readonly records: OperationRecords,
    private readonly create: CreateOrganizationOperation,
    private readonly rename: RenameOrganizationOperation,
    private readonly move: MoveOrganizationOperation,
    private readonly remove: DeleteOrganizationOperation,
    private readonly orphans: OrphanCollector,
    private readonly hooks: OperationHooks,
    @Inject(databaseConfig.KEY) private readonly config: DatabaseConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const repaired = await this.repairStale();
    if (repaired > 0) this.logger.warn(`Repaired ${repaired} interrupted operation(s) at start-up`);
    await this.orphans.collect();
    this.timer = setInterval(() => this.sweep(), Math.max(1000, this.config.operationLeaseMs / 2));
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  async repairStale(now = new Date()): Promise<number> {
    const stale = await this.organizations
      .find({ 'pending.lease_until': trusted({ $lt: now }) })
      .lean<OrganizationRecord[]>()
      .exec();
    let repaired = 0;
    for (const org of stale) {
      const op = org.pending as PendingOperation;
      try {
        const lease = await this.ledger.claim(org._id, op.op_id, op.type);
        if (!lease) continue;
        const current = await this.records.findPending(lease);
        if (!current) continue;
        await this.hooks.reached(op.type, 'repair_claimed');
        this.logger.warn(
          {
            organization_id: org._id,
            type: op.type,
            step: op.step,
            op_id: op.op_id,
            fence: lease.fence,
          },
          'Repairing an interrupted operation',
        );
        await this.recover(current, lease);
        repaired += 1;
      } catch (error) {
        this.logger.error(
          { err: error, organization_id: org._id, operation: op },
          'Repair failed; it will be retried',
        );
      }
    }
    return repaired;
  }

  private recover(org: OrganizationRecord, lease: OperationLease): Promise<Outcome> {
    switch (lease.type) {
      case 'create':
        return this.create.recover(org, lease);
      case 'rename':
        return this.rename.recover(org, lease);
      case 'move':
        return this.move.recover(org, lease);
      case 'delete':
        return this.remove.recover(org, lease);
    }
  }

  private sweep(): void {
    if (this.running) return;
    this.sweeps += 1;
    const collect = this.sweeps % SWEEPS_PER_COLLECTION === 0;
    this.running = this.repairStale()
      .then(() => (collect ? this.orphans.collect() : undefined))
      .catch((error: unknown) => this.logger.error({ err: error }, 'Repair sweep failed'))
      .finally(() => (this.running = undefined));
  }
}
