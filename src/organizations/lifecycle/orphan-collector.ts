import { Injectable, Logger } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { Model } from 'mongoose';
import { AdminsService } from '../../admins/admins.service';
import { DEFAULT_CLUSTER } from '../../config/tenant-clusters';
import { ClusterConnections } from '../../database/cluster-connections';
import {
  TenantConnectionFactory,
  type TenantLocation,
} from '../../database/tenant-connection.factory';
import { TenantOwnership } from '../../database/tenant-ownership';
import { OperationLedger } from './operation-ledger';
import { TenantClaims } from './tenant-claims';
import type { OrganizationRecord } from '../organizations.repository';
import { Organization, SlugReservation } from '../schemas/organization.schema';

export interface CollectedOrphans {
  databases: number;
  reservations: number;
  admins: number;
}

/**
 * Removes what an interrupted or stalled process can leave behind and no
 * protocol step will revisit: a tenant database no organization refers to
 * (dropped only if its metadata proves it ours, or it holds nothing), and a
 * slug reservation whose organization neither uses nor targets that slug,
 * and an admin whose organization is gone (an insert that landed late).
 * Every organization records a database or slug before it creates one, so
 * "nobody refers to it" cannot hit a create or rename in flight.
 *
 * Every configured cluster is scanned. A database counts as referenced when
 * an organization names it on any cluster: names are unique across clusters
 * (they come from unique slugs), so this is exact for everything the service
 * makes, and it can never drop a database because two cluster names reach
 * one server or a cluster was renamed in TENANT_CLUSTERS.
 */
@Injectable()
export class OrphanCollector {
  private readonly logger = new Logger(OrphanCollector.name);

  constructor(
    private readonly clusters: ClusterConnections,
    private readonly tenants: TenantConnectionFactory,
    @InjectModel(Organization.name) private readonly organizations: Model<Organization>,
    @InjectModel(SlugReservation.name) private readonly slugs: Model<SlugReservation>,
    private readonly ownership: TenantOwnership,
    private readonly claims: TenantClaims,
    private readonly ledger: OperationLedger,
    private readonly admins: AdminsService,
  ) {}

  async collect(): Promise<CollectedOrphans> {
    const databases = await this.collectDatabases();
    const reservations = await this.collectReservations();
    const admins = await this.admins.deleteOrphans();
    await this.ledger.purge();
    if (databases + reservations + admins > 0) {
      this.logger.warn(
        { databases, reservations, admins },
        'Removed orphans of interrupted operations',
      );
    }
    return { databases, reservations, admins };
  }

  private async collectDatabases(): Promise<number> {
    const found: TenantLocation[] = [];
    for (const cluster of this.clusters.names()) {
      for (const databaseName of await this.listOn(cluster)) found.push({ databaseName, cluster });
    }
    if (found.length === 0) return 0;
    // Read after listing every cluster: a database that exists was referenced before it was created.
    const referenced = new Set<string>();
    const orgs = await this.organizations
      .find({}, { database_name: 1, pending: 1 })
      .lean<OrganizationRecord[]>()
      .exec();
    for (const org of orgs) {
      referenced.add(org.database_name);
      if (org.pending?.target_database) referenced.add(org.pending.target_database);
      if (org.pending?.source_database) referenced.add(org.pending.source_database);
    }
    let dropped = 0;
    for (const location of found.filter((l) => !referenced.has(l.databaseName))) {
      const owner = await this.ownership.inspect(location);
      const removed =
        owner.kind === 'empty'
          ? await this.ownership.dropIf(location, (now) => now.kind === 'empty')
          : await this.claims.reclaimOrphan(location, owner);
      if (removed) dropped += 1;
      else if (owner.kind === 'foreign') {
        this.logger.warn(
          { database: location.databaseName, cluster: location.cluster },
          'A tenant-named database holds data of no organization',
        );
      }
    }
    return dropped;
  }

  /** The tenant databases of `cluster`; none while a tenant cluster is unreachable (retried next time). */
  private async listOn(cluster: string): Promise<string[]> {
    try {
      return await this.tenants.databaseNames(cluster);
    } catch (error) {
      if (cluster === DEFAULT_CLUSTER) throw error;
      this.logger.warn(
        { cluster, error: (error as Error).name },
        'Skipped an unreachable tenant cluster while collecting orphans',
      );
      return [];
    }
  }

  private async collectReservations(): Promise<number> {
    const reservations = await this.slugs.find().lean<SlugReservation[]>().exec();
    let released = 0;
    for (const reservation of reservations) {
      const org = await this.organizations
        .findById(reservation.organization_id, { slug: 1, pending: 1 })
        .lean<OrganizationRecord>()
        .exec();
      const slug = reservation._id;
      const inUse =
        org &&
        (org.slug === slug ||
          org.pending?.target_slug === slug ||
          org.pending?.source_slug === slug);
      if (inUse) continue;
      const { deletedCount } = await this.slugs
        .deleteOne({ _id: slug, organization_id: reservation.organization_id })
        .exec();
      released += deletedCount;
    }
    return released;
  }
}
