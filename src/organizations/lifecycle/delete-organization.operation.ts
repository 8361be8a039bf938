import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { AdminsService } from '../../admins/admins.service';
import { tenantLocationOf } from '../../database/tenant-connection.factory';
import { ownedBy, TenantOwnership } from '../../database/tenant-ownership';
import { TenantWriteFence } from '../../database/tenant-write-fence';
import type { OrganizationRecord } from '../organizations.repository';
import { Organization, SlugReservation } from '../schemas/organization.schema';
import { OperationHooks } from './operation-hooks';
import { OperationJournal, type OperationOrigin } from './operation-journal';
import { OperationLedger, type OperationLease, type Outcome } from './operation-ledger';
import { OperationRecords } from './operation-records';

/**
 * Delete: once recorded, the organization no longer exists for clients, and
 * every step is idempotent, so an interrupted delete is always rolled forward.
 */
@Injectable()
export class DeleteOrganizationOperation {
  constructor(
    @InjectModel(Organization.name) private readonly organizations: Model<Organization>,
    @InjectModel(SlugReservation.name) private readonly slugs: Model<SlugReservation>,
    private readonly records: OperationRecords,
    private readonly ledger: OperationLedger,
    private readonly admins: AdminsService,
    private readonly ownership: TenantOwnership,
    private readonly writes: TenantWriteFence,
    private readonly hooks: OperationHooks,
    private readonly journal: OperationJournal,
  ) {}

  /** `origin`: the request it runs for, whose operation resource it keeps up to date. */
  async run(organizationId: Types.ObjectId, origin?: OperationOrigin): Promise<OrganizationRecord> {
    const pending = this.records.newOperation('delete', 'dropping');
    const locked = await this.records.whileIdle(organizationId, { pending });
    const lease = await this.ledger.open(organizationId, pending.op_id, 'delete');
    try {
      // Admin writes admitted before the delete was recorded (a password
      // change, a removal) land first: the admins who may follow the delete
      // are read as they are after them (recover drains again, at no cost).
      await this.writes.drain(organizationId, () => this.ledger.renew(lease));
      await this.journal.open(lease, locked, origin, () =>
        this.admins.credentialsOf(organizationId),
      );
      await this.hooks.reached('delete', 'recorded');
      await this.recover(locked, lease);
      return locked;
    } catch (error) {
      await this.records.afterFailure(lease, error, (org, own) => this.recover(org, own));
      throw error;
    }
  }

  async recover(org: OrganizationRecord, lease: OperationLease): Promise<Outcome> {
    // Tenant writes admitted before the delete was recorded finish first, so
    // none of them can recreate the database after it is dropped.
    await this.writes.drain(org._id, () => this.ledger.renew(lease));
    await this.ledger.renew(lease);
    // Dropping a large database takes a while; the lease stays fresh meanwhile.
    await this.ledger.keepAlive(lease, () =>
      this.ownership.dropIf(tenantLocationOf(org), ownedBy(org._id), () =>
        this.ledger.assertFresh(lease),
      ),
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
    await this.journal.succeed(lease, org);
    await this.ledger.assertCurrent(lease);
    await this.organizations.deleteOne({ _id: org._id, 'pending.op_id': lease.opId }).exec();
    return 'commit';
  }
}
