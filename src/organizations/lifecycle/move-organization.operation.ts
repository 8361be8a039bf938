import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import {
  DomainError,
  operationInterrupted,
  orgBusy,
  orgNotFound,
} from '../../common/errors/domain.error';
import { ErrorCode } from '../../common/errors/error-codes';
import { isUnreachableError } from '../../common/errors/mongo-errors';
import { databaseConfig, type DatabaseConfig } from '../../config/configuration';
import { ClusterConnections, ClusterUnreachableError } from '../../database/cluster-connections';
import {
  clusterOf,
  TenantConnectionFactory,
  type TenantLocation,
} from '../../database/tenant-connection.factory';
import { TenantWriteFence } from '../../database/tenant-write-fence';
import { MigrationsService } from '../../migrations/migrations.service';
import type { OrganizationRecord } from '../organizations.repository';
import { Organization, PendingOperation, type OperationStep } from '../schemas/organization.schema';
import { OperationHooks } from './operation-hooks';
import { OperationJournal, type OperationOrigin } from './operation-journal';
import { OperationLedger, type OperationLease, type Outcome } from './operation-ledger';
import { OperationRecords } from './operation-records';
import { TenantClaims } from './tenant-claims';
import { type CopySteps, TenantCopyProtocol } from './tenant-copy-protocol';
import { CopyVerificationError, TenantDataMover } from './tenant-data-mover';

export const alreadyThere = (cluster: string) =>
  new DomainError(
    ErrorCode.ALREADY_THERE,
    `The organization's data is already on the cluster "${cluster}".`,
  );

/** How long a side that failed a drop gets to answer a ping before it counts as down. */
const SIDE_PING_MS = 2000;

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
  private readonly logger = new Logger(MoveOrganizationOperation.name);

  constructor(
    @InjectModel(Organization.name) private readonly organizations: Model<Organization>,
    @Inject(databaseConfig.KEY) private readonly config: DatabaseConfig,
    private readonly records: OperationRecords,
    private readonly claims: TenantClaims,
    private readonly ledger: OperationLedger,
    private readonly tenants: TenantConnectionFactory,
    private readonly writes: TenantWriteFence,
    private readonly mover: TenantDataMover,
    private readonly migrations: MigrationsService,
    private readonly hooks: OperationHooks,
    private readonly journal: OperationJournal,
    private readonly protocol: TenantCopyProtocol,
    private readonly clusters: ClusterConnections,
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
      const switched = await this.protocol.switch(this.steps, lease);
      await this.hooks.reached('move', 'switched');
      report('dropping_source', documentsTotal);
      const moved = await this.finish(switched, lease);
      report('done', documentsTotal);
      return moved;
    } catch (error) {
      // Only a write that stalled past the drain can change the source under
      // the copy; it was answered 503, and the move is rolled back whole.
      const answer = error instanceof CopyVerificationError ? orgBusy() : error;
      return this.protocol.failed(this.steps, lease, organizationId, error, answer);
    }
  }

  /** Finishes a committed move or undoes one that was not (repair's entry). */
  recover(org: OrganizationRecord, lease: OperationLease, reason?: unknown): Promise<Outcome> {
    return this.protocol.recover(this.steps, org, lease, reason);
  }

  /** The move's own parts of the shared protocol. */
  private readonly steps: CopySteps = {
    switchedFields: (op) => ({ cluster: op.target_cluster }),
    finish: (org, lease) => this.finish(org, lease),
    undo: async (org, lease, reason) => {
      const target = sideOf(org.pending as PendingOperation, 'target');
      if (target) {
        await this.dropUnlessDown(org, lease, target, () =>
          this.protocol.dropTarget(org, lease, target),
        );
      }
      await this.protocol.fail(lease, reason);
    },
  };

  /**
   * A cluster that died mid-move must not hold the organization: on its
   * side (the target after a rollback, the source after a commit) the copy
   * is left behind, and the operation ends at once. That copy is used by
   * nobody; the orphan collector takes it back once the cluster answers
   * again, and so does the next move there when it claims that database.
   */
  private async dropUnlessDown(
    org: OrganizationRecord,
    lease: OperationLease,
    side: TenantLocation,
    drop: () => Promise<void>,
  ): Promise<void> {
    try {
      await drop();
    } catch (error) {
      if (!(error instanceof ClusterUnreachableError) && !isUnreachableError(error)) throw error;
      // The master may have been the one that failed (the drop renews the
      // lease there): only a side that does not answer now counts as down.
      if ((await this.clusters.status(side.cluster, SIDE_PING_MS)) !== 'down') throw error;
      // The fence still holds, so ending the operation is still ours to do.
      await this.ledger.assertCurrent(lease);
      this.logger.warn(
        { organization_id: org._id, cluster: side.cluster, database: side.databaseName },
        "Left a move's copy on an unreachable cluster; the orphan collector removes it once the cluster answers",
      );
    }
  }

  private async finish(
    org: OrganizationRecord,
    lease: OperationLease,
  ): Promise<OrganizationRecord> {
    const op = org.pending as PendingOperation;
    const source = sideOf(op, 'source');
    if (source && source.cluster !== op.target_cluster) {
      await this.dropUnlessDown(org, lease, source, () =>
        this.protocol.dropSource(org, lease, source),
      );
    }
    await this.hooks.reached('move', 'source_dropped');
    return this.protocol.succeed(org, lease);
  }
}
