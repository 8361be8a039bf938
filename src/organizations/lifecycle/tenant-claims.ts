import { Injectable, Logger } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { DomainError } from '../../common/errors/domain.error';
import { ErrorCode } from '../../common/errors/error-codes';
import { isDuplicateKeyError } from '../../common/errors/mongo-errors';
import type { TenantLocation } from '../../database/tenant-connection.factory';
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
      if (!(await this.reclaimOrphan(location, owner))) throw nameBlocked();
    }
    const recorded = await this.ledger.write(lease, () =>
      this.ownership.record(location, {
        organizationId: lease.organizationId,
        opId: lease.opId,
        schemaVersion,
      }),
    );
    // Someone else recorded themselves between the inspection and the insert.
    if (!recorded) throw nameBlocked();
  }

  /**
   * Drops a database whose metadata names an organization that no longer
   * refers to it (a leftover of an interrupted operation). Foreign data,
   * another deployment's databases, and every database an organization or its
   * operation in flight uses, stay.
   */
  async reclaimOrphan(location: TenantLocation, owner: TenantOwner): Promise<boolean> {
    // Only our master can tell that its organization is gone: another
    // deployment's database (or one whose metadata predates that record) stays.
    if (owner.kind !== 'owned' || !owner.thisMaster) return false;
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
}
