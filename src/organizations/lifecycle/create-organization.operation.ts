import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model } from 'mongoose';
import { AdminsService, type AdminRecord } from '../../admins/admins.service';
import { operationInterrupted } from '../../common/errors/domain.error';
import { isDuplicateKeyError } from '../../common/errors/mongo-errors';
import {
  TenantConnectionFactory,
  tenantLocationOf,
} from '../../database/tenant-connection.factory';
import { ownedBy, TenantOwnership } from '../../database/tenant-ownership';
import { MigrationsService } from '../../migrations/migrations.service';
import { slugify } from '../organization-name';
import type { OrganizationRecord } from '../organizations.repository';
import { Organization } from '../schemas/organization.schema';
import { OperationHooks } from './operation-hooks';
import { OperationLedger, type OperationLease, type Outcome } from './operation-ledger';
import { OperationRecords } from './operation-records';
import { orgNameTaken, TenantClaims } from './tenant-claims';

/**
 * Create: the record (unique slug) first, then the name's reservation, the
 * owner admin and the tenant database, then the commit decision. Until the
 * commit the organization is invisible, and an interrupted create is rolled
 * back so neither the name nor the email stays blocked.
 */
@Injectable()
export class CreateOrganizationOperation {
  constructor(
    @InjectModel(Organization.name) private readonly organizations: Model<Organization>,
    private readonly records: OperationRecords,
    private readonly claims: TenantClaims,
    private readonly ledger: OperationLedger,
    private readonly admins: AdminsService,
    private readonly tenants: TenantConnectionFactory,
    private readonly ownership: TenantOwnership,
    private readonly migrations: MigrationsService,
    private readonly hooks: OperationHooks,
  ) {}

  async run(input: {
    name: string;
    email: string;
    password: string;
    /** The cluster placement chose (default `default`); recorded before its database is made. */
    cluster?: string;
  }): Promise<{ organization: OrganizationRecord; owner: AdminRecord }> {
    const slug = slugify(input.name);
    const location = this.tenants.locationForSlug(slug, input.cluster);
    const pending = this.records.newOperation('create', 'provisioning');
    let organization: OrganizationRecord;
    try {
      organization = (
        await this.organizations.create({
          name: input.name,
          slug,
          database_name: location.databaseName,
          cluster: location.cluster,
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
      await this.claims.reserveSlug(slug, organization._id, input.name);
      await this.hooks.reached('create', 'slug_reserved');
      await this.ledger.assertCurrent(lease);
      const owner = await this.admins.create({
        organizationId: organization._id,
        email: input.email,
        password: input.password,
        role: 'owner',
      });
      await this.hooks.reached('create', 'admin_created');
      await this.claims.claimDatabase(lease, location, 0);
      await this.ledger.assertCurrent(lease);
      // New organizations start at the latest tenant schema version.
      await this.migrations.initialiseTenant(await this.tenants.db(location));
      await this.hooks.reached('create', 'tenant_initialised');
      if ((await this.ledger.decide(lease, 'commit')) !== 'commit') throw operationInterrupted();
      return { organization: await this.records.close(lease), owner };
    } catch (error) {
      await this.records.afterFailure(lease, error, (org, own) => this.recover(org, own));
      throw error;
    }
  }

  /** Rolled back unless the worker had committed (then only the record is left to close). */
  async recover(org: OrganizationRecord, lease: OperationLease): Promise<Outcome> {
    const outcome = await this.ledger.decide(lease, 'abort');
    if (outcome === 'commit') {
      await this.records.close(lease);
      return outcome;
    }
    await this.ledger.assertCurrent(lease);
    await this.admins.deleteForOrganization(org._id);
    await this.ledger.renew(lease);
    await this.ledger.keepAlive(lease, () =>
      this.ownership.dropIf(tenantLocationOf(org), ownedBy(org._id, lease.opId), () =>
        this.ledger.assertFresh(lease),
      ),
    );
    await this.ledger.assertCurrent(lease);
    await this.claims.releaseSlug(org.slug, org._id);
    await this.ledger.assertCurrent(lease);
    await this.organizations.deleteOne({ _id: org._id, 'pending.op_id': lease.opId }).exec();
    return outcome;
  }
}
