import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types, trusted } from 'mongoose';
import { AdminsService, type AdminRecord } from '../admins/admins.service';
import { DomainError, orgBusy, orgNotFound } from '../common/errors/domain.error';
import { ErrorCode } from '../common/errors/error-codes';
import { databaseConfig, type DatabaseConfig } from '../config/configuration';
import { TENANT_META_COLLECTION } from '../database/database.constants';
import { isDuplicateKeyError } from '../database/mongo-errors';
import { LockBusyError, MutexService } from '../database/mutex.service';
import {
  TenantConnectionFactory,
  type TenantLocation,
} from '../database/tenant-connection.factory';
import { MigrationsService } from '../migrations/migrations.service';
import { OperationHooks } from './operation-hooks';
import { slugify } from './organization-name';
import type { OrganizationRecord } from './organizations.repository';
import {
  Organization,
  PendingOperation,
  SlugReservation,
  type OperationStep,
  type OperationType,
} from './schemas/organization.schema';
import { TenantDataMover } from './tenant-data-mover';

export const orgNameTaken = (name: string) =>
  new DomainError(ErrorCode.ORG_NAME_TAKEN, `An organization named "${name}" already exists.`);

const TENANT_META_ID = 'tenant';

/** `empty`, `foreign`, or the owning organization's id as a hex string. */
type TenantOwner = string;

const locationOf = (org: Pick<Organization, 'database_name' | 'cluster_uri'>): TenantLocation => ({
  databaseName: org.database_name,
  clusterUri: org.cluster_uri,
});

/**
 * Create, rename and delete: each is several writes with no multi-document
 * transaction to lean on (FerretDB has none), so each is a small protocol.
 * The operation is recorded on the organization (which also locks it) before
 * any data is touched; every later write is conditional on that record; and
 * `recover` can finish or undo an operation from whatever step it stopped at.
 * ARCHITECTURE.md walks through each protocol.
 */
@Injectable()
export class OrganizationLifecycleService {
  private readonly logger = new Logger(OrganizationLifecycleService.name);

  constructor(
    @InjectModel(Organization.name) private readonly organizations: Model<Organization>,
    @InjectModel(SlugReservation.name) private readonly slugs: Model<SlugReservation>,
    @Inject(databaseConfig.KEY) private readonly config: DatabaseConfig,
    private readonly admins: AdminsService,
    private readonly tenants: TenantConnectionFactory,
    private readonly mover: TenantDataMover,
    private readonly hooks: OperationHooks,
    private readonly migrations: MigrationsService,
    private readonly mutex: MutexService,
  ) {}

  // ---------------------------------------------------------------- create

  async create(input: {
    name: string;
    email: string;
    password: string;
  }): Promise<{ organization: OrganizationRecord; owner: AdminRecord }> {
    const slug = slugify(input.name);
    const location = this.tenants.locationForSlug(slug);
    const pending = this.newOperation('create', 'provisioning');
    let organization: OrganizationRecord;
    try {
      organization = (
        await this.organizations.create({
          name: input.name,
          slug,
          database_name: location.databaseName,
          cluster_uri: null,
          pending,
        })
      ).toObject();
    } catch (error) {
      if (isDuplicateKeyError(error)) throw orgNameTaken(input.name);
      throw error;
    }

    try {
      await this.hooks.reached('create', 'recorded');
      await this.reserveSlug(slug, organization._id, input.name);
      await this.hooks.reached('create', 'slug_reserved');
      const owner = await this.admins.create({
        organizationId: organization._id,
        email: input.email,
        password: input.password,
        role: 'owner',
      });
      await this.hooks.reached('create', 'admin_created');
      await this.initialiseTenant(organization._id, location);
      await this.hooks.reached('create', 'tenant_initialised');
      const done = await this.organizations
        .findOneAndUpdate(
          { _id: organization._id, 'pending.op_id': pending.op_id },
          { $set: { pending: null } },
          { returnDocument: 'after' },
        )
        .lean<OrganizationRecord>()
        .exec();
      if (!done) throw new Error('Lost the create lease before finishing');
      return { organization: done, owner };
    } catch (error) {
      await this.undoCreate(organization).catch((undoError: unknown) =>
        this.logger.error(
          { err: undoError, organization_id: organization._id },
          'Create rollback failed; repair will retry',
        ),
      );
      throw error;
    }
  }

  private async reserveSlug(slug: string, organizationId: Types.ObjectId, name: string) {
    try {
      await this.slugs.create({
        _id: slug,
        organization_id: organizationId,
        created_at: new Date(),
      });
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
      const holder = await this.slugs.findById(slug).lean().exec();
      // Our own reservation from an earlier attempt of the same operation.
      if (holder?.organization_id.equals(organizationId)) return;
      throw orgNameTaken(name);
    }
  }

  private async initialiseTenant(organizationId: Types.ObjectId, location: TenantLocation) {
    const db = this.tenants.db(location);
    const owner = await this.tenantOwner(location);
    if (owner === 'foreign') {
      throw new DomainError(
        ErrorCode.CONFLICT,
        'A database for this name already exists and belongs to no organization; an operator must remove it.',
      );
    }
    await db
      .collection(TENANT_META_COLLECTION)
      .replaceOne(
        { _id: TENANT_META_ID as never },
        { organization_id: organizationId, created_at: new Date(), schema_version: 0 },
        { upsert: true },
      );
    // New organizations start at the latest tenant schema version.
    await this.migrations.initialiseTenant(db);
  }

  /**
   * Whose data a tenant database holds: `empty` (nothing there), the owning
   * organization's id, or `foreign` (data without our metadata, which no
   * protocol of ours ever drops).
   */
  private async tenantOwner(location: TenantLocation): Promise<TenantOwner> {
    const db = this.tenants.db(location);
    const collections = await db.listCollections({}, { nameOnly: true }).toArray();
    if (collections.length === 0) return 'empty';
    const meta = await db
      .collection<{ _id: string; organization_id?: Types.ObjectId }>(TENANT_META_COLLECTION)
      .findOne({ _id: TENANT_META_ID });
    return meta?.organization_id ? String(meta.organization_id) : 'foreign';
  }

  private async dropTenantIfOwned(organizationId: Types.ObjectId, location: TenantLocation) {
    const owner = await this.tenantOwner(location);
    if (owner === String(organizationId)) await this.tenants.dropDatabase(location);
    else if (owner === 'foreign') {
      this.logger.warn(
        { database: location.databaseName },
        'Left a database with foreign data in place',
      );
    }
  }

  private async undoCreate(org: OrganizationRecord): Promise<void> {
    await this.admins.deleteForOrganization(org._id);
    await this.dropTenantIfOwned(org._id, locationOf(org));
    await this.slugs.deleteOne({ _id: org.slug, organization_id: org._id }).exec();
    await this.organizations.deleteOne({ _id: org._id, 'pending.type': 'create' }).exec();
  }

  // ---------------------------------------------------------------- rename

  async rename(organizationId: Types.ObjectId, newName: string): Promise<OrganizationRecord> {
    const current = await this.organizations
      .findById(organizationId)
      .lean<OrganizationRecord>()
      .exec();
    if (!current || (current.pending && current.pending.type !== 'rename')) throw orgNotFound();
    const newSlug = slugify(newName);

    if (newSlug === current.slug) {
      // Same identity, new spelling: no data moves.
      return this.whileIdle(organizationId, { name: newName });
    }

    const target = this.tenants.locationForSlug(newSlug);
    const pending = this.newOperation('rename', 'reserving', {
      target_name: newName,
      target_slug: newSlug,
      target_database: target.databaseName,
    });
    const locked = await this.whileIdle(organizationId, { pending });

    try {
      await this.hooks.reached('rename', 'recorded');
      await this.reserveSlug(newSlug, organizationId, newName);
      await this.hooks.reached('rename', 'slug_reserved');

      await this.advance(locked, 'copying');
      // Tenant writes check the lock before writing; one that passed its
      // check just before the lock was taken lands within this pause, so the
      // copy below cannot miss it (verification would also catch a count drift).
      if (this.config.tenantWriteDrainMs > 0) await sleep(this.config.tenantWriteDrainMs);
      const owner = await this.tenantOwner(target);
      if (owner === 'foreign') {
        throw new DomainError(
          ErrorCode.CONFLICT,
          'A database for the new name already exists and belongs to no organization; an operator must remove it.',
        );
      }
      // Leftovers of an earlier attempt of ours are dropped so the copy starts clean.
      if (owner !== 'empty') await this.tenants.dropDatabase(target);
      const source = this.tenants.db(locationOf(locked));
      const targetDb = this.tenants.db(target);
      await this.mover.copy(source, targetDb, {
        batchSize: this.config.copyBatchSize,
        onBatch: () => this.renewLease(locked),
      });
      await this.hooks.reached('rename', 'copied');

      await this.advance(locked, 'verifying');
      await this.mover.verify(source, targetDb);
      await this.hooks.reached('rename', 'verified');

      // The switch: one single-document write moves the organization to its
      // new name and database. Before it, repair rolls back; after it, forward.
      const switched = await this.organizations
        .findOneAndUpdate(
          { _id: organizationId, 'pending.op_id': pending.op_id },
          {
            $set: {
              name: newName,
              slug: newSlug,
              database_name: target.databaseName,
              'pending.step': 'dropping_source',
              'pending.source_database': locked.database_name,
              'pending.source_slug': locked.slug,
              'pending.lease_until': this.leaseDeadline(),
            },
          },
          { returnDocument: 'after' },
        )
        .lean<OrganizationRecord>()
        .exec();
      if (!switched) throw new Error('Lost the rename lease before switching');
      await this.hooks.reached('rename', 'switched');
      return await this.finishRename(switched).catch((error: unknown) => {
        // The rename is committed; only clean-up of the old database is left,
        // which repair finishes once the lease runs out.
        this.logger.error(
          { err: error, organization_id: organizationId },
          'Rename clean-up deferred to repair',
        );
        return switched;
      });
    } catch (error) {
      await this.recoverAfterFailure(organizationId, pending.op_id);
      if (isDuplicateKeyError(error)) throw orgNameTaken(newName);
      throw error;
    }
  }

  private async finishRename(org: OrganizationRecord): Promise<OrganizationRecord> {
    const op = org.pending as PendingOperation;
    if (op.source_database) {
      await this.tenants.dropDatabase({
        databaseName: op.source_database,
        clusterUri: org.cluster_uri,
      });
    }
    await this.hooks.reached('rename', 'source_dropped');
    if (op.source_slug) {
      await this.slugs.deleteOne({ _id: op.source_slug, organization_id: org._id }).exec();
    }
    const done = await this.organizations
      .findOneAndUpdate(
        { _id: org._id, 'pending.op_id': op.op_id },
        { $set: { pending: null } },
        { returnDocument: 'after' },
      )
      .lean<OrganizationRecord>()
      .exec();
    if (!done) throw new Error('Lost the rename lease before finishing');
    return done;
  }

  private async undoRename(org: OrganizationRecord): Promise<void> {
    const op = org.pending as PendingOperation;
    if (op.target_slug && op.target_database) {
      const reservation = await this.slugs.findById(op.target_slug).lean().exec();
      // Only a reservation we hold proves the target database is ours to drop.
      if (reservation?.organization_id.equals(org._id)) {
        await this.dropTenantIfOwned(org._id, {
          databaseName: op.target_database,
          clusterUri: org.cluster_uri,
        });
        await this.slugs.deleteOne({ _id: op.target_slug, organization_id: org._id }).exec();
      }
    }
    await this.organizations
      .updateOne({ _id: org._id, 'pending.op_id': op.op_id }, { $set: { pending: null } })
      .exec();
  }

  // ---------------------------------------------------------------- delete

  async delete(organizationId: Types.ObjectId): Promise<OrganizationRecord> {
    const pending = this.newOperation('delete', 'dropping');
    const locked = await this.whileIdle(organizationId, { pending });
    try {
      await this.hooks.reached('delete', 'recorded');
      await this.finishDelete(locked);
      return locked;
    } catch (error) {
      await this.recoverAfterFailure(organizationId, pending.op_id);
      throw error;
    }
  }

  /** Every step is idempotent, so a delete is always rolled forward. */
  private async finishDelete(org: OrganizationRecord): Promise<void> {
    await this.tenants.dropDatabase(locationOf(org));
    await this.hooks.reached('delete', 'tenant_dropped');
    await this.admins.deleteForOrganization(org._id);
    await this.hooks.reached('delete', 'admins_removed');
    // The slug is released before the record goes: while the record exists
    // its unique slug index still guards the name, so no window lets two
    // organizations share it.
    await this.slugs.deleteMany({ organization_id: org._id }).exec();
    await this.hooks.reached('delete', 'slug_released');
    await this.organizations
      .deleteOne({ _id: org._id, 'pending.op_id': org.pending?.op_id })
      .exec();
  }

  // ---------------------------------------------------------------- repair

  /**
   * Finishes or undoes every operation whose lease ran out (its process
   * died, or froze past the lease). Safe to run from several instances at
   * once: an operation is claimed by a conditional write before it is touched.
   */
  async repairStale(now = new Date()): Promise<number> {
    const stale = await this.organizations
      .find({ 'pending.lease_until': trusted({ $lt: now }) })
      .lean<OrganizationRecord[]>()
      .exec();
    let repaired = 0;
    for (const org of stale) {
      const claimed = await this.claim(org, now);
      if (!claimed) continue;
      try {
        await this.recover(claimed);
        repaired += 1;
      } catch (error) {
        this.logger.error(
          { err: error, organization_id: org._id, operation: claimed.pending },
          'Repair failed; it will be retried',
        );
      }
    }
    return repaired;
  }

  private async claim(org: OrganizationRecord, now: Date): Promise<OrganizationRecord | null> {
    if (!org.pending) return null;
    const opId = org.pending.op_id;
    try {
      return await this.mutex.withLock(
        this.lockKey(org._id),
        async () => {
          const current = await this.organizations
            .findById(org._id)
            .lean<OrganizationRecord>()
            .exec();
          if (current?.pending?.op_id !== opId || current.pending.lease_until >= now) return null;
          return this.organizations
            .findByIdAndUpdate(
              org._id,
              { $set: { 'pending.lease_until': this.leaseDeadline() } },
              { returnDocument: 'after' },
            )
            .lean<OrganizationRecord>()
            .exec();
        },
        { waitMs: 0 },
      );
    } catch (error) {
      if (error instanceof LockBusyError) return null;
      throw error;
    }
  }

  /**
   * Applies `set` only if no operation holds the organization: the check and
   * the write run under the organization's mutex, because a conditional
   * update alone is not atomic on FerretDB.
   */
  private async whileIdle(
    organizationId: Types.ObjectId,
    set: Partial<Organization>,
  ): Promise<OrganizationRecord> {
    try {
      return await this.mutex.withLock(this.lockKey(organizationId), async () => {
        const current = await this.organizations
          .findById(organizationId, { pending: 1 })
          .lean<OrganizationRecord>()
          .exec();
        if (!current) throw orgNotFound();
        if (current.pending) throw orgBusy();
        const updated = await this.organizations
          .findOneAndUpdate(
            { _id: organizationId, pending: null },
            { $set: set },
            { returnDocument: 'after' },
          )
          .lean<OrganizationRecord>()
          .exec();
        if (!updated) throw orgBusy();
        return updated;
      });
    } catch (error) {
      if (error instanceof LockBusyError) throw orgBusy();
      throw error;
    }
  }

  private lockKey(organizationId: Types.ObjectId): string {
    return `organization:${String(organizationId)}`;
  }

  private async recover(org: OrganizationRecord): Promise<void> {
    const op = org.pending;
    if (!op) return;
    this.logger.warn(
      { organization_id: org._id, type: op.type, step: op.step, op_id: op.op_id },
      'Repairing an interrupted operation',
    );
    switch (op.type) {
      case 'create':
        return this.undoCreate(org);
      case 'delete':
        return this.finishDelete(org);
      case 'rename':
        // The switch wrote the target database name; that single write is
        // the line between rolling back and rolling forward.
        if (org.database_name === op.target_database) {
          await this.finishRename(org);
          return;
        }
        return this.undoRename(org);
    }
  }

  /** After an error in-process: put things right now rather than at the next sweep. */
  private async recoverAfterFailure(organizationId: Types.ObjectId, opId: string): Promise<void> {
    try {
      const org = await this.organizations
        .findOne({ _id: organizationId, 'pending.op_id': opId })
        .lean<OrganizationRecord>()
        .exec();
      if (org) await this.recover(org);
    } catch (error) {
      this.logger.error(
        { err: error, organization_id: organizationId },
        'Recovery failed; repair will retry',
      );
    }
  }

  // ---------------------------------------------------------------- helpers

  private newOperation(
    type: OperationType,
    step: OperationStep,
    extra: Partial<PendingOperation> = {},
  ): PendingOperation {
    return {
      op_id: randomUUID(),
      type,
      step,
      started_at: new Date(),
      lease_until: this.leaseDeadline(),
      ...extra,
    };
  }

  private leaseDeadline(): Date {
    return new Date(Date.now() + this.config.operationLeaseMs);
  }

  private async advance(org: OrganizationRecord, step: OperationStep): Promise<void> {
    await this.conditionalSet(org, {
      'pending.step': step,
      'pending.lease_until': this.leaseDeadline(),
    });
  }

  private renewLease(org: OrganizationRecord): Promise<void> {
    return this.conditionalSet(org, { 'pending.lease_until': this.leaseDeadline() });
  }

  /** A write that only lands while this process still holds the operation. */
  private async conditionalSet(
    org: OrganizationRecord,
    set: Record<string, unknown>,
  ): Promise<void> {
    const result = await this.organizations
      .updateOne({ _id: org._id, 'pending.op_id': org.pending?.op_id }, { $set: set })
      .exec();
    if (result.matchedCount === 0) {
      throw new Error('The operation was taken over by a repairer (its lease expired)');
    }
  }
}
