import { Inject, Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import {
  DomainError,
  operationInterrupted,
  orgBusy,
  orgNotFound,
} from '../../common/errors/domain.error';
import { ErrorCode } from '../../common/errors/error-codes';
import { databaseConfig, type DatabaseConfig } from '../../config/configuration';
import {
  clusterOf,
  TenantConnectionFactory,
  type TenantLocation,
} from '../../database/tenant-connection.factory';
import { ownedBy, TenantOwnership } from '../../database/tenant-ownership';
import { TenantWriteFence } from '../../database/tenant-write-fence';
import { MigrationsService } from '../../migrations/migrations.service';
import type { OrganizationRecord } from '../organizations.repository';
import { Organization, PendingOperation, type OperationStep } from '../schemas/organization.schema';
import { OperationHooks } from './operation-hooks';
import { OperationJournal, type OperationOrigin } from './operation-journal';
import { OperationLedger, type OperationLease, type Outcome } from './operation-ledger';
import { isInterruption, OperationRecords } from './operation-records';
import { TenantClaims } from './tenant-claims';
import { CopyVerificationError, TenantDataMover } from './tenant-data-mover';

export const alreadyThere = (cluster: string) =>
  new DomainError(
    ErrorCode.ALREADY_THERE,
    `The organization's data is already on the cluster "${cluster}".`,
  );

/** Where a move is, for a progress display: its step and, while copying, documents so far. */
export interface MoveProgress {
  step: OperationStep | 'done';
  documentsCopied: number;
  documentsTotal: number;
}

/** Where the pending move's database is on each side (same name, two clusters). */
const sideOf = (op: PendingOperation, side: 'source' | 'target'): TenantLocation | null => {
  const databaseName = side === 'source' ? op.source_database : op.target_database;
  const cluster = side === 'source' ? op.source_cluster : op.target_cluster;
  return databaseName && cluster ? { databaseName, cluster } : null;
};

/**
 * Move: the tenant database keeps its name and changes cluster. The same
 * protocol as a rename: record, wait for in-flight tenant writes, claim the
 * target database on the target cluster (metadata first), copy, verify,
 * commit, and only then switch the record's `cluster` and drop the source.
 * Before the commit an interrupted move is rolled back, after it forward.
 */
@Injectable()
export class MoveOrganizationOperation {
  constructor(
    @InjectModel(Organization.name) private readonly organizations: Model<Organization>,
    @Inject(databaseConfig.KEY) private readonly config: DatabaseConfig,
    private readonly records: OperationRecords,
    private readonly claims: TenantClaims,
    private readonly ledger: OperationLedger,
    private readonly tenants: TenantConnectionFactory,
    private readonly ownership: TenantOwnership,
    private readonly writes: TenantWriteFence,
    private readonly mover: TenantDataMover,
    private readonly migrations: MigrationsService,
    private readonly hooks: OperationHooks,
    private readonly journal: OperationJournal,
  ) {}

  /**
   * `origin`: the request it runs for, whose operation resource it keeps up
   * to date; `progress`: a local display's (the command line's).
   */
  async run(
    organizationId: Types.ObjectId,
    toCluster: string,
    origin?: OperationOrigin,
    progress: (p: MoveProgress) => void = () => undefined,
  ): Promise<OrganizationRecord> {
    const current = await this.organizations
      .findById(organizationId)
      .lean<OrganizationRecord>()
      .exec();
    // Half-created or being deleted: not there for anyone (a rename or move in flight is busy below).
    const live = !current?.pending || ['rename', 'move'].includes(current.pending.type);
    if (!current || !live) throw orgNotFound();
    if (clusterOf(current) === toCluster) throw alreadyThere(toCluster);

    const pending = this.records.newOperation('move', 'copying', { target_cluster: toCluster });
    const locked = await this.records.whileIdle(organizationId, { pending }, (fresh) => {
      // A rename or another move finished while this one waited for the lock.
      if (fresh.database_name !== current.database_name) throw orgBusy();
      if (clusterOf(fresh) === toCluster) throw alreadyThere(toCluster);
      pending.source_database = fresh.database_name;
      pending.source_cluster = clusterOf(fresh);
      pending.target_database = fresh.database_name;
    });
    const lease = await this.ledger.open(organizationId, pending.op_id, 'move');
    const source = sideOf(pending, 'source') as TenantLocation;
    const target = sideOf(pending, 'target') as TenantLocation;
    let documentsTotal = 0;
    const report = (step: MoveProgress['step'], documentsCopied = 0) =>
      progress({ step, documentsCopied, documentsTotal });

    try {
      await this.journal.open(lease, locked, origin);
      await this.hooks.reached('move', 'recorded');
      report('copying');
      // Writes admitted before the move was recorded finish (or expire)
      // first; later ones see the record and are refused. The copy below
      // therefore sees every acknowledged write.
      await this.writes.drain(organizationId, () => this.ledger.renew(lease));
      const sourceDb = await this.tenants.db(source);
      // Empty, or this operation's: ownership is recorded before any data goes in.
      await this.claims.claimDatabase(lease, target, await this.migrations.tenantVersion(sourceDb));
      await this.hooks.reached('move', 'target_claimed');
      const targetDb = await this.tenants.db(target);
      const journalled = this.journal.progressReporter(lease);
      await this.ledger.keepAlive(lease, () =>
        this.mover.copy(sourceDb, targetDb, {
          batchSize: this.config.copyBatchSize,
          write: async (write, undo) => {
            const result = await this.ledger.write(lease, write, undo);
            await this.hooks.reached('move', 'copy_write');
            return result;
          },
          progress: (copied, total) => {
            documentsTotal = total;
            journalled(copied, total);
            report('copying', copied);
          },
        }),
      );
      await journalled.flush();
      await this.hooks.reached('move', 'copied');

      await this.records.advance(lease, 'verifying');
      report('verifying', documentsTotal);
      await this.ledger.keepAlive(lease, () => this.mover.verify(sourceDb, targetDb));
      await this.hooks.reached('move', 'verified');

      // The commit point. Before it repair rolls back, after it forward.
      if ((await this.ledger.decide(lease, 'commit')) !== 'commit') throw operationInterrupted();
      const switched = await this.applySwitch(lease);
      await this.hooks.reached('move', 'switched');
      report('dropping_source', documentsTotal);
      const moved = await this.finish(switched, lease);
      report('done', documentsTotal);
      return moved;
    } catch (error) {
      // Only a write that stalled past the drain can change the source under
      // the copy; it was answered 503, and the move is rolled back whole.
      const answer = error instanceof CopyVerificationError ? orgBusy() : error;
      const outcome = await this.records.afterFailure(lease, error, (org, own) =>
        this.recover(org, own, answer),
      );
      // Committed and then finished by recovery: the move happened.
      if (outcome === 'commit' && !isInterruption(error)) {
        const moved = await this.organizations
          .findById(organizationId)
          .lean<OrganizationRecord>()
          .exec();
        if (moved) return moved;
      }
      throw answer;
    }
  }

  /**
   * Finishes a committed move or undoes one that was not. `reason`: what the
   * worker answers its client, recorded as a rolled-back operation's error
   * (repair has none: the instance stopped).
   */
  async recover(
    org: OrganizationRecord,
    lease: OperationLease,
    reason?: unknown,
  ): Promise<Outcome> {
    const outcome = await this.ledger.decide(lease, 'abort');
    if (outcome === 'commit') await this.finish(await this.applySwitch(lease), lease);
    else await this.undo(org, lease, reason);
    return outcome;
  }

  /** The switch: one single-document write points the organization at the target cluster. */
  private async applySwitch(lease: OperationLease): Promise<OrganizationRecord> {
    const org = await this.records.findPending(lease);
    if (!org) throw operationInterrupted();
    const op = org.pending as PendingOperation;
    await this.ledger.assertCurrent(lease);
    const switched = await this.organizations
      .findOneAndUpdate(
        { _id: org._id, 'pending.op_id': op.op_id },
        {
          $set: {
            cluster: op.target_cluster,
            'pending.step': 'dropping_source',
            'pending.lease_until': this.ledger.leaseDeadline(),
          },
        },
        { returnDocument: 'after' },
      )
      .lean<OrganizationRecord>()
      .exec();
    if (!switched) throw operationInterrupted();
    return switched;
  }

  private async finish(
    org: OrganizationRecord,
    lease: OperationLease,
  ): Promise<OrganizationRecord> {
    const op = org.pending as PendingOperation;
    const source = sideOf(op, 'source');
    if (source && source.cluster !== op.target_cluster) {
      await this.ledger.renew(lease);
      // The old copy is this organization's, made by an earlier operation:
      // never the one this move just made (two cluster names may reach one server).
      await this.ledger.keepAlive(lease, () =>
        this.ownership.dropIf(
          source,
          (owner) => ownedBy(org._id)(owner) && owner.kind === 'owned' && owner.opId !== op.op_id,
          () => this.ledger.assertFresh(lease),
        ),
      );
    }
    await this.hooks.reached('move', 'source_dropped');
    await this.journal.succeed(lease, org);
    return this.records.close(lease);
  }

  private async undo(
    org: OrganizationRecord,
    lease: OperationLease,
    reason: unknown,
  ): Promise<void> {
    const target = sideOf(org.pending as PendingOperation, 'target');
    if (target) {
      await this.ledger.renew(lease);
      // Only what this very move made: an empty name or someone else's data stays.
      await this.ledger.keepAlive(lease, () =>
        this.ownership.dropIf(target, ownedBy(org._id, lease.opId), () =>
          this.ledger.assertFresh(lease),
        ),
      );
    }
    await this.journal.fail(lease, reason);
    await this.records.close(lease);
  }
}
