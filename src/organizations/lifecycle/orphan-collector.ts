import { Injectable, Logger } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { Model } from 'mongoose';
import { AdminsService } from '../../admins/admins.service';
import { DEFAULT_CLUSTER } from '../../config/tenant-clusters';
import { DomainError } from '../../common/errors/domain.error';
import { ErrorCode } from '../../common/errors/error-codes';
import { ClusterConnections } from '../../database/cluster-connections';
import {
  TenantConnectionFactory,
  type TenantLocation,
} from '../../database/tenant-connection.factory';
import { TenantOwnership } from '../../database/tenant-ownership';
import { OperationLedger } from './operation-ledger';
import { locationsOf, TenantClaims } from './tenant-claims';
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
 * Every configured cluster is scanned, and a database is judged by where it
 * is: collected unless an organization uses it on that cluster, or an
 * operation of that name is in flight. A database with data whose name is in
 * use on another cluster (a move's target it never reached) is collected only
 * if its metadata proves it another database than the one in use: two
 * cluster names may reach one server (TenantClaims.reclaimOrphan).
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
    const usedAt = new Set<string>();
    const inFlight = new Set<string>();
    const orgs = await this.organizations
      .find({}, { database_name: 1, cluster: 1, pending: 1 })
      .lean<OrganizationRecord[]>()
      .exec();
    for (const org of orgs) {
      for (const use of locationsOf(org)) {
        usedAt.add(locationKey(use));
        if (org.pending) inFlight.add(use.databaseName);
      }
    }
    let dropped = 0;
    for (const location of found) {
      if (usedAt.has(locationKey(location))) continue;
      // A name in use elsewhere (a move's other copy) while an operation of it runs: not touched.
      if (inFlight.has(location.databaseName)) continue;
      const removed = await this.claims
        .exclusively(location, (lockHeld) => this.collectOne(location, lockHeld))
        .catch((error: unknown) => {
          // Claimed right now, or this collection stalled: the next one looks again.
          if (error instanceof DomainError && error.code === ErrorCode.ORG_BUSY) return false;
          throw error;
        });
      if (removed) dropped += 1;
    }
    return dropped;
  }

  /**
   * One database, under its claim lock: the inspection, and the drop, see
   * the same state a claim would (a claim waits for the lock, and this
   * collection stops at half the lock's life, before it could have lost it).
   */
  private async collectOne(location: TenantLocation, lockHeld: () => void): Promise<boolean> {
    const owner = await this.ownership.inspect(location);
    // Empty: nothing in it to lose, so a late write's leftover on a cluster
    // the organization moved away from is collected too. Owned: also a copy
    // of a name in use on another cluster (a move's target it never
    // reached), unless it may be that very database under a second name.
    const removed =
      owner.kind === 'empty'
        ? await this.ownership.dropIf(location, (now) => now.kind === 'empty', lockHeld)
        : await this.claims.reclaimOrphan(location, owner, undefined, lockHeld);
    if (!removed && owner.kind === 'foreign') {
      this.logger.warn(
        { database: location.databaseName, cluster: location.cluster },
        'A tenant-named database holds data of no organization',
      );
    }
    return removed;
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

/** Database names hold no NUL, so the key is unambiguous. */
const locationKey = (location: TenantLocation) =>
  `${location.cluster}\u0000${location.databaseName}`;
