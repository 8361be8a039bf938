import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types, trusted } from 'mongoose';
import { AdminsService, type AdminRecord } from '../admins/admins.service';
import {
  DomainError,
  operationInterrupted,
  orgBusy,
  orgNotFound,
} from '../common/errors/domain.error';
import { ErrorCode } from '../common/errors/error-codes';
import { databaseConfig, type DatabaseConfig } from '../config/configuration';
import { isDuplicateKeyError } from '../database/mongo-errors';
import { LockBusyError, MutexService } from '../database/mutex.service';
import {
  TenantConnectionFactory,
  type TenantLocation,
} from '../database/tenant-connection.factory';
import { ownedBy, TenantOwnership, type TenantOwner } from '../database/tenant-ownership';
import { TenantWriteFence } from '../database/tenant-write-fence';
import { MigrationsService } from '../migrations/migrations.service';
import { OperationHooks } from './operation-hooks';
import { OperationLedger, type OperationLease, type Outcome } from './operation-ledger';
import { slugify } from './organization-name';
import type { OrganizationRecord } from './organizations.repository';
import {
  Organization,
  PendingOperation,
  SlugReservation,
  type OperationStep,
  type OperationType,
} from './schemas/organization.schema';
import { CopyVerificationError, TenantDataMover } from './tenant-data-mover';

export const orgNameTaken = (name: string) =>
  new DomainError(ErrorCode.ORG_NAME_TAKEN, `An organization named "${name}" already exists.`);

const nameBlocked = () =>
  new DomainError(
    ErrorCode.CONFLICT,
    'A database for this name already exists and belongs to no organization; an operator must remove it.',
  );

const locationOf = (org: Pick<Organization, 'database_name' | 'cluster_uri'>): TenantLocation => ({
  databaseName: org.database_name,
  clusterUri: org.cluster_uri,
});

const isInterruption = (error: unknown) =>
  error instanceof DomainError && error.code === ErrorCode.OPERATION_INTERRUPTED;

/**
 * Create, rename and delete: each is several writes with no multi-document
 * transaction to lean on (FerretDB has none), so each is a small protocol.
 * - The operation is recorded on the organization (which also locks it)
 *   before any data is touched, and gets a fencing token (OperationLedger).
 * - Every later write checks, right before it, that the token is still the
 *   newest, so a process paused past its lease changes nothing once repair
 *   has claimed the operation.
 * - Create and rename are decided once, by an insert-only decision: the worker
 *   commits, a repairer aborts; whoever comes second follows the first.
 * - A database is dropped or adopted only when its own `_tenant_meta` proves
 *   it belongs to this organization (and, where it matters, this operation).
 * - Rename and delete wait for in-flight tenant writes (TenantWriteFence)
 *   before they copy or drop, so no acknowledged write is lost.
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
    private readonly ownership: TenantOwnership,
    private readonly writes: TenantWriteFence,
    private readonly ledger: OperationLedger,
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

    const lease = await this.ledger.open(organization._id, pending.op_id, 'create');
    try {
      await this.hooks.reached('create', 'recorded');
      await this.ledger.assertCurrent(lease);
      await this.reserveSlug(slug, organization._id, input.name);
      await this.hooks.reached('create', 'slug_reserved');
      await this.ledger.assertCurrent(lease);
      const owner = await this.admins.create({
        organizationId: organization._id,
        email: input.email,
        password: input.password,
        role: 'owner',
      });
      await this.hooks.reached('create', 'admin_created');
      await this.initialiseTenant(lease, location);
      await this.hooks.reached('create', 'tenant_initialised');
      if ((await this.ledger.decide(lease, 'commit')) !== 'commit') throw operationInterrupted();
      return { organization: await this.close(lease), owner };
    } catch (error) {
      await this.recoverAfterFailure(lease, error);
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

  private async initialiseTenant(lease: OperationLease, location: TenantLocation) {
    await this.claimDatabase(lease, location, 0);
    await this.ledger.assertCurrent(lease);
    // New organizations start at the latest tenant schema version.
    await this.migrations.initialiseTenant(this.tenants.db(location));
  }

  /**
   * Makes `location` this operation's database: it must hold nothing, or
   * already be ours, or be an orphan whose owner no longer refers to it.
   * Ownership is written before any data goes in.
   */
  private async claimDatabase(lease: OperationLease, location: TenantLocation, version: number) {
    const owner = await this.ownership.inspect(location);
    const ours = owner.kind === 'owned' && owner.opId === lease.opId;
    if (!ours && owner.kind !== 'empty') {
      if (!(await this.reclaimOrphan(location, owner))) throw nameBlocked();
    }
    await this.ledger.assertCurrent(lease);
    await this.ownership.record(location, {
      organizationId: lease.organizationId,
      opId: lease.opId,
      schemaVersion: version,
    });
  }

  /**
   * Drops a database whose metadata names an organization that no longer
   * refers to it (a leftover of an interrupted operation). Foreign data, and
   * every database an organization or its operation in flight uses, stay.
   */
  async reclaimOrphan(location: TenantLocation, owner: TenantOwner): Promise<boolean> {
    if (owner.kind !== 'owned') return false;
    const org = await this.organizations
      .findById(owner.organizationId, { database_name: 1, pending: 1 })
      .lean<OrganizationRecord>()
      .exec();
    const name = location.databaseName;
    if (
      org &&
      (org.database_name === name ||
        org.pending?.target_database === name ||
        org.pending?.source_database === name)
    ) {
      return false;
    }
    this.logger.warn({ database: name }, 'Dropping an orphaned tenant database');
    return this.ownership.dropIf(
      location,
      (now) =>
        now.kind === 'owned' &&
        now.organizationId === owner.organizationId &&
        now.opId === owner.opId,
    );
  }

  private async undoCreate(org: OrganizationRecord, lease: OperationLease): Promise<void> {
    await this.ledger.assertCurrent(lease);
    await this.admins.deleteForOrganization(org._id);
    await this.ledger.assertCurrent(lease);
    await this.ledger.keepAlive(lease, () =>
      this.ownership.dropIf(locationOf(org), ownedBy(org._id, lease.opId)),
    );
    await this.ledger.assertCurrent(lease);
    await this.slugs.deleteOne({ _id: org.slug, organization_id: org._id }).exec();
    await this.ledger.assertCurrent(lease);
    await this.organizations.deleteOne({ _id: org._id, 'pending.op_id': lease.opId }).exec();
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
    const locked = await this.whileIdle(organizationId, { pending }, (fresh) => {
      // Another rename finished while this one waited for the lock.
      if (fresh.slug !== current.slug) throw orgBusy();
      pending.source_database = fresh.database_name;
      pending.source_slug = fresh.slug;
    });
    const lease = await this.ledger.open(organizationId, pending.op_id, 'rename');

    try {
      await this.hooks.reached('rename', 'recorded');
      await this.ledger.assertCurrent(lease);
      await this.reserveSlug(newSlug, organizationId, newName);
      // A create inserts its record (unique slug) before its reservation, a
      // rename reserves before it reads the records: whichever of the two
      // comes second sees the first, so the switch never meets a clash.
      if (
        await this.organizations.exists({ slug: newSlug, _id: trusted({ $ne: organizationId }) })
      ) {
        throw orgNameTaken(newName);
      }
      await this.hooks.reached('rename', 'slug_reserved');

      await this.advance(lease, 'copying');
      // Writes admitted before the rename was recorded finish (or expire)
      // first; later ones see the record and are refused. The copy below
      // therefore sees every acknowledged write.
      await this.writes.drain(organizationId, () => this.ledger.renew(lease));
      const source = this.tenants.db(locationOf(locked));
      await this.claimDatabase(lease, target, await this.migrations.tenantVersion(source));
      const targetDb = this.tenants.db(target);
      await this.ledger.keepAlive(lease, () =>
        this.mover.copy(source, targetDb, {
          batchSize: this.config.copyBatchSize,
          beforeWrite: () => this.ledger.renew(lease),
        }),
      );
      await this.hooks.reached('rename', 'copied');

      await this.advance(lease, 'verifying');
      await this.ledger.keepAlive(lease, () => this.mover.verify(source, targetDb));
      await this.hooks.reached('rename', 'verified');

      // The commit point. Before it repair rolls back, after it forward.
      if ((await this.ledger.decide(lease, 'commit')) !== 'commit') throw operationInterrupted();
      const switched = await this.applySwitch(lease);
      await this.hooks.reached('rename', 'switched');
      return await this.finishRename(switched, lease);
    } catch (error) {
      const outcome = await this.recoverAfterFailure(lease, error);
      // Committed and then finished by recovery: the rename happened.
      if (outcome === 'commit' && !isInterruption(error)) {
        const renamed = await this.organizations
          .findById(organizationId)
          .lean<OrganizationRecord>()
          .exec();
        if (renamed) return renamed;
      }
      if (isDuplicateKeyError(error)) throw orgNameTaken(newName);
      // Only a write that stalled past the drain can change the source under
      // the copy; it was answered 503, and the rename is rolled back whole.
      if (error instanceof CopyVerificationError) throw orgBusy();
      throw error;
    }
  }

  /** The switch: one single-document write moves the organization to its new name and database. */
  private async applySwitch(lease: OperationLease): Promise<OrganizationRecord> {
    const org = await this.pendingRecord(lease);
    const op = org.pending as PendingOperation;
    await this.ledger.assertCurrent(lease);
    const switched = await this.organizations
      .findOneAndUpdate(
        { _id: org._id, 'pending.op_id': op.op_id },
        {
          $set: {
            name: op.target_name,
            slug: op.target_slug,
            database_name: op.target_database,
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

  private async finishRename(
    org: OrganizationRecord,
    lease: OperationLease,
  ): Promise<OrganizationRecord> {
    const op = org.pending as PendingOperation;
    if (op.source_database && op.source_database !== op.target_database) {
      await this.ledger.assertCurrent(lease);
      // The old database is this organization's, made by an earlier operation.
      await this.ledger.keepAlive(lease, () =>
        this.ownership.dropIf(
          { databaseName: op.source_database as string, clusterUri: org.cluster_uri },
          (owner) => ownedBy(org._id)(owner) && owner.kind === 'owned' && owner.opId !== op.op_id,
        ),
      );
    }
    await this.hooks.reached('rename', 'source_dropped');
    if (op.source_slug) {
      await this.ledger.assertCurrent(lease);
      await this.slugs.deleteOne({ _id: op.source_slug, organization_id: org._id }).exec();
    }
    return this.close(lease);
  }

  private async undoRename(org: OrganizationRecord, lease: OperationLease): Promise<void> {
    const op = org.pending as PendingOperation;
    if (op.target_database) {
      await this.ledger.assertCurrent(lease);
      await this.ledger.keepAlive(lease, () =>
        this.ownership.dropIf(
          { databaseName: op.target_database as string, clusterUri: org.cluster_uri },
          ownedBy(org._id, op.op_id),
        ),
      );
    }
    if (op.target_slug && op.target_slug !== org.slug) {
      await this.ledger.assertCurrent(lease);
      await this.slugs.deleteOne({ _id: op.target_slug, organization_id: org._id }).exec();
    }
    await this.close(lease);
  }

  // ---------------------------------------------------------------- delete

  async delete(organizationId: Types.ObjectId): Promise<OrganizationRecord> {
    const pending = this.newOperation('delete', 'dropping');
    const locked = await this.whileIdle(organizationId, { pending });
    const lease = await this.ledger.open(organizationId, pending.op_id, 'delete');
    try {
      await this.hooks.reached('delete', 'recorded');
      await this.finishDelete(locked, lease);
      return locked;
    } catch (error) {
      await this.recoverAfterFailure(lease, error);
      throw error;
    }
  }

  /** Every step is idempotent, so a delete is always rolled forward. */
  private async finishDelete(org: OrganizationRecord, lease: OperationLease): Promise<void> {
    // Tenant writes admitted before the delete was recorded finish first, so
    // none of them can recreate the database after it is dropped.
    await this.writes.drain(org._id, () => this.ledger.renew(lease));
    await this.ledger.assertCurrent(lease);
    // Dropping a large database takes a while; the lease stays fresh meanwhile.
    await this.ledger.keepAlive(lease, () =>
      this.ownership.dropIf(locationOf(org), ownedBy(org._id)),
    );
    await this.hooks.reached('delete', 'tenant_dropped');
    await this.ledger.assertCurrent(lease);
    await this.admins.deleteForOrganization(org._id);
    await this.hooks.reached('delete', 'admins_removed');
    // The slug is released before the record goes: while the record exists
    // its unique slug index still guards the name, so no window lets two
    // organizations share it.
    await this.ledger.assertCurrent(lease);
    await this.slugs.deleteMany({ organization_id: org._id }).exec();
    await this.hooks.reached('delete', 'slug_released');
    await this.ledger.assertCurrent(lease);
    await this.organizations.deleteOne({ _id: org._id, 'pending.op_id': lease.opId }).exec();
  }

  // ---------------------------------------------------------------- repair

  /**
   * Finishes or undoes every operation whose lease ran out (its process
   * died, or froze past the lease). Safe to run from several instances at
   * once: each claim takes a new fencing token, which exactly one wins.
   */
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
        const current = await this.organizations
          .findOne({ _id: org._id, 'pending.op_id': op.op_id })
          .lean<OrganizationRecord>()
          .exec();
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

  /** Puts an operation right from whatever step it stopped at; returns the outcome that stands. */
  private async recover(org: OrganizationRecord, lease: OperationLease): Promise<Outcome> {
    const op = org.pending as PendingOperation;
    switch (op.type) {
      case 'create': {
        const outcome = await this.ledger.decide(lease, 'abort');
        if (outcome === 'commit') await this.close(lease);
        else await this.undoCreate(org, lease);
        return outcome;
      }
      case 'rename': {
        const outcome = await this.ledger.decide(lease, 'abort');
        if (outcome === 'commit') await this.finishRename(await this.applySwitch(lease), lease);
        else await this.undoRename(org, lease);
        return outcome;
      }
      case 'delete':
        await this.finishDelete(org, lease);
        return 'commit';
    }
  }

  /**
   * After an error in-process: put things right now rather than at the next
   * sweep, unless the operation was taken over (then it is not ours to touch).
   */
  private async recoverAfterFailure(
    lease: OperationLease,
    error: unknown,
  ): Promise<Outcome | null> {
    if (isInterruption(error)) return null;
    try {
      const org = await this.organizations
        .findOne({ _id: lease.organizationId, 'pending.op_id': lease.opId })
        .lean<OrganizationRecord>()
        .exec();
      return org ? await this.recover(org, lease) : await this.ledger.outcomeOf(lease.opId);
    } catch (recoveryError) {
      this.logger.error(
        { err: recoveryError, organization_id: lease.organizationId },
        'Recovery failed; repair will retry',
      );
      return null;
    }
  }

  // ---------------------------------------------------------------- helpers

  /**
   * Applies `set` only if no operation holds the organization: the check and
   * the write run under the organization's mutex, because a conditional
   * update alone is not atomic on FerretDB.
   */
  private async whileIdle(
    organizationId: Types.ObjectId,
    set: Partial<Organization>,
    check?: (current: OrganizationRecord) => void,
  ): Promise<OrganizationRecord> {
    try {
      return await this.mutex.withLock(`organization:${String(organizationId)}`, async () => {
        const current = await this.organizations
          .findById(organizationId)
          .lean<OrganizationRecord>()
          .exec();
        if (!current) throw orgNotFound();
        if (current.pending) throw orgBusy();
        check?.(current);
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

  /** Ends the operation: the organization is idle (or, for create, live) again. */
  private async close(lease: OperationLease): Promise<OrganizationRecord> {
    await this.ledger.assertCurrent(lease);
    const done = await this.organizations
      .findOneAndUpdate(
        { _id: lease.organizationId, 'pending.op_id': lease.opId },
        { $set: { pending: null } },
        { returnDocument: 'after' },
      )
      .lean<OrganizationRecord>()
      .exec();
    if (!done) throw operationInterrupted();
    return done;
  }

  private async pendingRecord(lease: OperationLease): Promise<OrganizationRecord> {
    const org = await this.organizations
      .findOne({ _id: lease.organizationId, 'pending.op_id': lease.opId })
      .lean<OrganizationRecord>()
      .exec();
    if (!org) throw operationInterrupted();
    return org;
  }

  private newOperation(
    type: OperationType,
    step: OperationStep,
    extra: Partial<PendingOperation> = {},
  ): PendingOperation {
    return {
      op_id: randomUUID(),
      type,
      step,
      fence: 1,
      started_at: new Date(),
      lease_until: this.ledger.leaseDeadline(),
      ...extra,
    };
  }

  private async advance(lease: OperationLease, step: OperationStep): Promise<void> {
    await this.ledger.assertCurrent(lease);
    await this.organizations
      .updateOne(
        { _id: lease.organizationId, 'pending.op_id': lease.opId },
        { $set: { 'pending.step': step, 'pending.lease_until': this.ledger.leaseDeadline() } },
      )
      .exec();
  }
}
