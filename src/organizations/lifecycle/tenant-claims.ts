import { Injectable, Logger } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { DomainError } from '../../common/errors/domain.error';
import { ErrorCode } from '../../common/errors/error-codes';
import { isDuplicateKeyError } from '../../common/errors/mongo-errors';
import {
  clusterOf,
  tenantLocationOf,
  type TenantLocation,
} from '../../database/tenant-connection.factory';
import { ownedBy, TenantOwnership, type TenantOwner } from '../../database/tenant-ownership';
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
    const owner = await this.ownership.inspect(location);
    const ours = owner.kind === 'owned' && owner.opId === lease.opId;
    if (!ours && owner.kind !== 'empty') {
      if (!(await this.reclaimOrphan(location, owner, lease))) throw nameBlocked();
    }
    const recorded = await this.ledger.write(
      lease,
      () =>
        this.ownership.record(location, {
          organizationId: lease.organizationId,
          opId: lease.opId,
          schemaVersion,
        }),
      // Recorded after a pause that cost the lease: repair has rolled this
      // operation back (it had not committed), so its database is garbage.
      (done) =>
        done
          ? this.ownership.dropIf(location, ownedBy(lease.organizationId, lease.opId))
          : Promise.resolve(),
    );
    // Someone else recorded themselves between the inspection and the insert.
    if (!recorded) throw nameBlocked();
  }

  /**
   * Drops a database whose metadata names an organization of ours that does
   * not use it there: a leftover of an interrupted operation (a move's target
   * on a cluster it never reached keeps the organization's name). Foreign
   * data, another deployment's databases, every database an organization or
   * its operation in flight uses, and any that may be one of those reached
   * under a second cluster name, stay. `claimant`: the operation claiming
   * `location` for itself, whose own record names it.
   */
  async reclaimOrphan(
    location: TenantLocation,
    owner: TenantOwner,
    claimant?: OperationLease,
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
      const claiming = claimant !== undefined && org._id.equals(claimant.organizationId);
      for (const use of locationsOf(org)) {
        if (use.databaseName !== name) continue;
        if (use.cluster !== location.cluster) elsewhere.push(use);
        else if (!claiming) return false;
      }
    }
    // Two cluster names may reach one server, and then this is the database
    // in use there. Metadata is written once per database and names its
    // operation, so a copy recording another operation is another database.
    for (const use of elsewhere) {
      if (await this.maySameAs(use, owner)) return false;
    }
    this.logger.warn(
      { database: name, cluster: location.cluster },
      'Dropping an orphaned tenant database',
    );
    return this.ownership.dropIf(location, (now) => sameOwner(now, owner));
  }

  /** Whether `location` records the same owner and operation (unreachable: it may). */
  private async maySameAs(location: TenantLocation, owner: TenantOwner): Promise<boolean> {
    try {
      return sameOwner(await this.ownership.inspect(location), owner);
    } catch {
      return true;
    }
  }
}

const sameOwner = (a: TenantOwner, b: TenantOwner): boolean =>
  a.kind === 'owned' &&
  b.kind === 'owned' &&
  a.organizationId === b.organizationId &&
  a.opId === b.opId;

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
