import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types, trusted } from 'mongoose';
import { DEFAULT_CLUSTER } from '../config/tenant-clusters';
import { tenantLocationOf, type TenantLocation } from '../database/tenant-connection.factory';
import { Organization, SlugReservation } from './schemas/organization.schema';

export type OrganizationRecord = Organization;

/** A tenant database as the migrations see it. */
export interface TenantDatabase {
  location: TenantLocation;
  /** An operation in flight owns the database's data. */
  busy: boolean;
}

/**
 * Master-database reads of organizations for everyone outside the lifecycle.
 * The models stay private: callers say what they want to know. Writes that are
 * protocol steps live in `lifecycle/`, one class per operation, so each step
 * sits next to its repair.
 */
@Injectable()
export class OrganizationsRepository implements OnModuleInit {
  constructor(
    @InjectModel(Organization.name) private readonly organizations: Model<Organization>,
    @InjectModel(SlugReservation.name) private readonly slugs: Model<SlugReservation>,
  ) {}

  async onModuleInit(): Promise<void> {
    await Promise.all([this.organizations.createIndexes(), this.slugs.createIndexes()]);
  }

  // The two reads on every authenticated request and every public view go
  // straight to the driver: a lean Mongoose query returns the same document
  // but first builds, casts and hooks a Query, a cost paid per request. The
  // filters are typed values (an ObjectId, a validated slug), nothing to cast.
  findById(id: Types.ObjectId): Promise<OrganizationRecord | null> {
    return this.organizations.collection.findOne<OrganizationRecord>({ _id: id });
  }

  findBySlug(slug: string): Promise<OrganizationRecord | null> {
    return this.organizations.collection.findOne<OrganizationRecord>({ slug });
  }

  /** Whether a record exists, in any state (half created and being deleted included). */
  async exists(id: Types.ObjectId): Promise<boolean> {
    return (await this.organizations.exists({ _id: id })) !== null;
  }

  /** The ids among `ids` that have a record, in any state. */
  async existing(ids: Types.ObjectId[]): Promise<Types.ObjectId[]> {
    const found = await this.organizations
      .find({ _id: trusted({ $in: ids }) }, { _id: 1 })
      .lean<Array<{ _id: Types.ObjectId }>>()
      .exec();
    return found.map((org) => org._id);
  }

  /**
   * A page of the organizations clients can see, by slug: optionally those
   * whose slug starts with `prefix`, after the slug `after`.
   */
  async page(query: {
    prefix: string;
    after?: string;
    limit: number;
  }): Promise<{ items: OrganizationRecord[]; next: string | null }> {
    const range: Record<string, string> = {};
    // A prefix is a range on the unique slug index: no regex from user input.
    if (query.prefix) Object.assign(range, { $gte: query.prefix, $lt: `${query.prefix}\uffff` });
    if (query.after) range.$gt = query.after;
    // Half-created and deleting organizations do not exist for clients; renaming ones do.
    const filter: Record<string, unknown> = {
      'pending.type': trusted({ $nin: ['create', 'delete'] }),
    };
    if (Object.keys(range).length) filter.slug = trusted(range);
    // One extra document tells whether another page exists.
    const page = await this.organizations
      .find(filter)
      .sort({ slug: 1 })
      .limit(query.limit + 1)
      .lean<OrganizationRecord[]>()
      .exec();
    const items = page.slice(0, query.limit);
    return { items, next: page.length > query.limit ? items[items.length - 1].slug : null };
  }

  /**
   * How many organizations (in any state) each of `clusters` holds. `default`
   * gets every record the other names do not count (those naming no cluster
   * among them), so pass every configured cluster.
   */
  async countPerCluster(clusters: readonly string[]): Promise<Map<string, number>> {
    const named = clusters.filter((name) => name !== DEFAULT_CLUSTER);
    // One count per named cluster rather than a $group, whose grouping of
    // null and missing fields is not the same on every server.
    const [total, ...counts] = await Promise.all([
      this.organizations.countDocuments({}).exec(),
      ...named.map((cluster) => this.organizations.countDocuments({ cluster }).exec()),
    ]);
    const perCluster = new Map(named.map((name, i) => [name, counts[i]]));
    const elsewhere = counts.reduce((sum, n) => sum + n, 0);
    if (clusters.includes(DEFAULT_CLUSTER)) perCluster.set(DEFAULT_CLUSTER, total - elsewhere);
    return perCluster;
  }

  /** Every organization's tenant database, oldest organization first. */
  async tenantDatabases(): Promise<TenantDatabase[]> {
    const orgs = await this.organizations
      .find({}, { database_name: 1, cluster: 1, pending: 1 })
      .sort({ _id: 1 })
      .lean<Array<Pick<Organization, 'database_name' | 'cluster' | 'pending'>>>()
      .exec();
    return orgs.map((org) => ({ location: tenantLocationOf(org), busy: Boolean(org.pending) }));
  }
}
