import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { DomainError, orgBusy } from '../../common/errors/domain.error';
import { ErrorCode } from '../../common/errors/error-codes';
import { isDuplicateKeyError } from '../../common/errors/mongo-errors';
import { databaseConfig, type DatabaseConfig } from '../../config/configuration';
import {
  clusterOf,
  tenantLocationOf,
  type TenantLocation,
} from '../../database/tenant-connection.factory';
import { LockBusyError, MutexService } from '../../database/mutex.service';
import { TenantOwnership, type TenantOwner } from '../../database/tenant-ownership';
import type { OrganizationRecord } from '../organizations.repository';
import { Organization, SlugReservation } from '../schemas/organization.schema';
import { OperationLedger, type OperationLease } from './operation-ledger';

export const orgNameTaken = (name: string) =>
  new DomainError(ErrorCode.ORG_NAME_TAKEN, `An organization named "${name}" already exists.`);

const nameBlocked = () =>
  new DomainError(
    ErrorCode.CONFLICT,
    "A database for this name already exists and is not ours to reuse (foreign data, or another deployment's); an operator must remove it.",
  );

/**
 * What an operation takes for itself: a name (slug reservation) and a
 * database (ownership recorded in it), and what it may take back from an
 * interrupted operation that left them behind.
 */
@Injectable()
export class TenantClaims {
  private readonly logger = new Logger(TenantClaims.name);

  constructor(
    @InjectModel(Organization.name) private readonly organizations: Model<Organization>,
    @InjectModel(SlugReservation.name) private readonly slugs: Model<SlugReservation>,
    private readonly ownership: TenantOwnership,
    private readonly ledger: OperationLedger,
    private readonly mutex: MutexService,
    @Inject(databaseConfig.KEY) private readonly config: DatabaseConfig,
  ) {}

  async reserveSlug(slug: string, organizationId: Types.ObjectId, name: string): Promise<void> {
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

  async releaseSlug(slug: string, organizationId: Types.ObjectId): Promise<void> {
    await this.slugs.deleteOne({ _id: slug, organization_id: organizationId }).exec();
  }

  /**
   * Makes `location` this operation's database: it must hold nothing, or
   * already be ours, or be an orphan whose owner no longer refers to it.
   * Ownership is written before any data goes in.
   */
  async claimDatabase(
    lease: OperationLease,
    location: TenantLocation,
    schemaVersion: number,
  ): Promise<void> {
    await this.exclusively(location, async (lockHeld) => {
      const owner = await this.ownership.inspect(location);
      const ours = owner.kind === 'owned' && owner.opId === lease.opId;
      const freshLease = () => {
        lockHeld();
        this.ledger.assertFresh(lease);
      };
      if (owner.kind === 'empty' && owner.leftovers) {
        // Empty collections a late write left (a copy could not create them
        // again): nothing to lose, and the operation starts on a clean database.
        await this.ledger.renew(lease);
        await this.ownership.dropIf(location, (now) => now.kind === 'empty', freshLease);
      } else if (!ours && owner.kind !== 'empty') {
        // Taking a database back is a drop: only while this operation is still the current one.
        await this.ledger.renew(lease);
        if (!(await this.reclaimOrphan(location, owner, lease, freshLease))) throw nameBlocked();
      }
      // An insert, never an overwrite: if it lands after a pause that cost the
      // lease, the metadata names an operation repair rolled back, and the
      // database is an orphan like any other (its metadata is not removed
      // here: on FerretDB a filtered delete is a find, then a delete by id,
      // which could remove a retry's metadata recorded in between).
      const recorded = await this.ledger.write(lease, () =>
        this.ownership.record(location, {
          organizationId: lease.organizationId,
          opId: lease.opId,
          schemaVersion,
        }),
      );
      // Someone else recorded themselves between the inspection and the insert.
      if (!recorded) throw nameBlocked();
    });
  }

  /**
   * Runs `work` as the only claim or orphan collection of `location` across
   * every instance. `guard` throws once the lock has lived half its life: a
   * holder that stalled longer may have lost it to the next one, and must not
   * drop what that one has recorded since. Busy: 409 ORG_BUSY.
   */
  async exclusively<T>(
    location: TenantLocation,
    work: (guard: () => void) => Promise<T>,
  ): Promise<T> {
    // As long as an operation's lease: a claim and a collection are a few
    // inspections and at most one drop.
    const ttlMs = this.config.operationLeaseMs;
    try {
      return await this.mutex.withLock(
        // By name alone: two cluster names may reach one server, and one
        // database must not have two locks.
        `tenant-database:${location.databaseName}`,
        ({ expiresAt }) =>
          work(() => {
            if (Date.now() > expiresAt - ttlMs / 2) throw orgBusy();
          }),
        { ttlMs, waitMs: ttlMs },
      );
    } catch (error) {
      if (error instanceof LockBusyError) throw orgBusy();
      throw error;
    }
  }

  /**
   * Drops a database whose metadata names an organization of ours that does
   * not use it there: a leftover of an interrupted operation (a move's target
   * on a cluster it never reached keeps the organization's name). Foreign
   * data, another deployment's databases, every database an organization or
   * its operation in flight uses, and any that may be one of those reached
   * under a second cluster name, stay. `claimant`: the operation claiming
   * `location` for itself, whose own record names it as its target; `guard`:
   * a last check right before the drop.
   */
  async reclaimOrphan(
    location: TenantLocation,
    owner: TenantOwner,
    claimant?: OperationLease,
    guard?: () => void,
  ): Promise<boolean> {
    // Only our master can tell that its organization is gone: another
    // deployment's database (or one whose metadata predates that record) stays.
    if (owner.kind !== 'owned' || !owner.thisMaster) return false;
    const name = location.databaseName;
    const users = await this.organizations
      .find(
        {
          $or: [
            { database_name: name },
            { 'pending.target_database': name },
            { 'pending.source_database': name },
          ],
        },
        { database_name: 1, cluster: 1, pending: 1 },
      )
      .lean<OrganizationRecord[]>()
      .exec();
    const elsewhere: TenantLocation[] = [];
    for (const org of users) {
      const claimed = claimant && claimedBy(org, claimant);
      const isClaimed = claimed?.databaseName === name && claimed.cluster === location.cluster;
      for (const use of locationsOf(org)) {
        if (use.databaseName !== name) continue;
        if (use.cluster !== location.cluster) elsewhere.push(use);
        else if (!isClaimed) return false;
      }
    }
    // Two cluster names may reach one server, and then this is the database
    // in use there. Metadata is written once per database and names its
    // operation: only a database in use that records another owner or
    // operation proves this one another database.
    for (const use of elsewhere) {
      if (!(await this.provenOther(use, owner))) return false;
    }
    this.logger.warn(
      { database: name, cluster: location.cluster },
      'Dropping an orphaned tenant database',
    );
    return this.ownership.dropIf(location, (now) => sameOwner(now, owner), guard);
  }

  /**
   * Whether `location` provably is another database than one owned by
   * `owner`: its metadata names another organization or operation. Empty,
   * foreign or unreachable proves nothing (a wiped server, a re-pointed URI).
   */
  private async provenOther(location: TenantLocation, owner: TenantOwner): Promise<boolean> {
    try {
      const there = await this.ownership.inspect(location);
      return there.kind === 'owned' && !sameOwner(there, owner);
    } catch {
      return false;
    }
  }
}

const sameOwner = (a: TenantOwner, b: TenantOwner): boolean =>
  a.kind === 'owned' &&
  b.kind === 'owned' &&
  a.organizationId === b.organizationId &&
  a.opId === b.opId;

/**
 * The database `claimant`'s own operation is recorded to claim on `org`:
 * a rename's or move's target, a create's database; none for anyone else.
 */
function claimedBy(org: OrganizationRecord, claimant: OperationLease): TenantLocation | undefined {
  const pending = org.pending;
  if (!org._id.equals(claimant.organizationId) || pending?.op_id !== claimant.opId)
    return undefined;
  if (pending.target_database) {
    return {
      databaseName: pending.target_database,
      cluster: pending.target_cluster ?? clusterOf(org),
    };
  }
  return pending.type === 'create' ? tenantLocationOf(org) : undefined;
}

/** Every database an organization's record names: its own, and its operation's source and target. */
export function locationsOf(org: OrganizationRecord): TenantLocation[] {
  const pending = org.pending;
  const uses = [tenantLocationOf(org)];
  if (pending?.target_database) {
    uses.push({
      databaseName: pending.target_database,
      cluster: pending.target_cluster ?? clusterOf(org),
    });
  }
  if (pending?.source_database) {
    uses.push({
      databaseName: pending.source_database,
      cluster: pending.source_cluster ?? clusterOf(org),
    });
  }
  return uses;
}
