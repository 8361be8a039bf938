import { Inject, Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types, trusted } from 'mongoose';
import { operationInterrupted, orgBusy, orgNotFound } from '../../common/errors/domain.error';
import { databaseConfig, type DatabaseConfig } from '../../config/configuration';
import { isDuplicateKeyError } from '../../common/errors/mongo-errors';
import {
  clusterOf,
  TenantConnectionFactory,
  tenantLocationOf,
} from '../../database/tenant-connection.factory';
import { TenantWriteFence } from '../../database/tenant-write-fence';
import { MigrationsService } from '../../migrations/migrations.service';
import { slugify } from '../organization-name';
import type { OrganizationRecord } from '../organizations.repository';
import { Organization, PendingOperation } from '../schemas/organization.schema';
import { OperationHooks } from './operation-hooks';
import { OperationJournal, type OperationOrigin } from './operation-journal';
import { OperationLedger, type OperationLease, type Outcome } from './operation-ledger';
import { OperationRecords } from './operation-records';
import { orgNameTaken, TenantClaims } from './tenant-claims';
import { type CopySteps, TenantCopyProtocol } from './tenant-copy-protocol';
import { CopyVerificationError, TenantDataMover } from './tenant-data-mover';

/**
 * Rename: reserve the new name, wait for in-flight tenant writes, copy the
 * tenant database into one recorded as this operation's, verify, commit, and
 * only then switch the record and drop the old database. Before the commit an
 * interrupted rename is rolled back, after it forward.
 */
@Injectable()
export class RenameOrganizationOperation {
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
  ) {}

  /** `origin`: the request it runs for, whose operation resource it keeps up to date. */
  async run(
    organizationId: Types.ObjectId,
    newName: string,
    origin?: OperationOrigin,
  ): Promise<OrganizationRecord> {
    const current = await this.organizations
      .findById(organizationId)
      .lean<OrganizationRecord>()
      .exec();
    if (!current || (current.pending && current.pending.type !== 'rename')) throw orgNotFound();
    const newSlug = slugify(newName);

    if (newSlug === current.slug) {
      // Same identity, new spelling: no data moves.
      return this.records.whileIdle(organizationId, { name: newName });
    }

    // The copy stays on the organization's own cluster.
    const target = this.tenants.locationForSlug(newSlug, clusterOf(current));
    const pending = this.records.newOperation('rename', 'reserving', {
      target_name: newName,
      target_slug: newSlug,
      target_database: target.databaseName,
    });
    const locked = await this.records.whileIdle(organizationId, { pending }, (fresh) => {
      // Another rename (or a move to another cluster) finished while this one waited for the lock.
      if (fresh.slug !== current.slug || clusterOf(fresh) !== target.cluster) throw orgBusy();
      pending.source_database = fresh.database_name;
      pending.source_slug = fresh.slug;
    });
    const lease = await this.ledger.open(organizationId, pending.op_id, 'rename');

    try {
      await this.journal.open(lease, locked, origin);
      await this.hooks.reached('rename', 'recorded');
      await this.ledger.assertCurrent(lease);
      await this.claims.reserveSlug(newSlug, organizationId, newName);
      // A create inserts its record (unique slug) before its reservation, a
      // rename reserves before it reads the records: whichever of the two
      // comes second sees the first, so the switch never meets a clash.
      const clash = await this.organizations.exists({
        slug: newSlug,
        _id: trusted({ $ne: organizationId }),
      });
      if (clash) throw orgNameTaken(newName);
      await this.hooks.reached('rename', 'slug_reserved');

      await this.records.advance(lease, 'copying');
      // Writes admitted before the rename was recorded finish (or expire)
      // first; later ones see the record and are refused. The copy below
      // therefore sees every acknowledged write.
      await this.writes.drain(organizationId, () => this.ledger.renew(lease));
      const source = await this.tenants.db(tenantLocationOf(locked));
      await this.claims.claimDatabase(lease, target, await this.migrations.tenantVersion(source));
      const targetDb = await this.tenants.db(target);
      const progress = this.journal.progressReporter(lease);
      await this.ledger.keepAlive(lease, () =>
        this.mover.copy(source, targetDb, {
          batchSize: this.config.copyBatchSize,
          write: async (write, undo) => {
            const result = await this.ledger.write(lease, write, undo);
            await this.hooks.reached('rename', 'copy_write');
            return result;
          },
          progress,
        }),
      );
      await progress.flush();
      await this.hooks.reached('rename', 'copied');

      await this.records.advance(lease, 'verifying');
      await this.ledger.keepAlive(lease, () => this.mover.verify(source, targetDb));
      await this.hooks.reached('rename', 'verified');

      // The commit point. Before it repair rolls back, after it forward.
      if ((await this.ledger.decide(lease, 'commit')) !== 'commit') throw operationInterrupted();
      const switched = await this.protocol.switch(this.steps, lease);
      await this.hooks.reached('rename', 'switched');
      return await this.finish(switched, lease);
    } catch (error) {
      return this.protocol.failed(
        this.steps,
        lease,
        organizationId,
        error,
        clientError(error, newName),
      );
    }
  }

  /** Finishes a committed rename or undoes one that was not (repair's entry). */
  recover(org: OrganizationRecord, lease: OperationLease, reason?: unknown): Promise<Outcome> {
    return this.protocol.recover(this.steps, org, lease, reason);
  }

  /** The rename's own parts of the shared protocol. */
  private readonly steps: CopySteps = {
    switchedFields: (op) => ({
      name: op.target_name,
      slug: op.target_slug,
      database_name: op.target_database,
    }),
    finish: (org, lease) => this.finish(org, lease),
    undo: async (org, lease, reason) => {
      const op = org.pending as PendingOperation;
      if (op.target_database) {
        await this.protocol.dropTarget(org, lease, tenantLocationOf(org, op.target_database));
      }
      if (op.target_slug && op.target_slug !== org.slug) {
        await this.ledger.assertCurrent(lease);
        await this.claims.releaseSlug(op.target_slug, org._id);
      }
      await this.protocol.fail(lease, reason);
    },
  };

  private async finish(
    org: OrganizationRecord,
    lease: OperationLease,
  ): Promise<OrganizationRecord> {
    const op = org.pending as PendingOperation;
    const source = op.source_database;
    if (source && source !== op.target_database) {
      await this.protocol.dropSource(org, lease, tenantLocationOf(org, source));
    }
    await this.hooks.reached('rename', 'source_dropped');
    if (op.source_slug) {
      await this.ledger.assertCurrent(lease);
      await this.claims.releaseSlug(op.source_slug, org._id);
    }
    return this.protocol.succeed(org, lease);
  }
}

/** The error the client of a failed rename is answered. */
function clientError(error: unknown, newName: string): unknown {
  if (isDuplicateKeyError(error)) return orgNameTaken(newName);
  // Only a write that stalled past the drain can change the source under
  // the copy; it was answered 503, and the rename is rolled back whole.
  if (error instanceof CopyVerificationError) return orgBusy();
  return error;
}
