import { Inject, Injectable } from '@nestjs/common';
import type { Db } from 'mongodb';
import type { Connection, Model, Schema } from 'mongoose';
import { databaseConfig, type DatabaseConfig } from '../config/configuration';
import { DEFAULT_CLUSTER } from '../config/tenant-clusters';
import { ClusterConnections } from './cluster-connections';
import { TENANT_DB_PREFIX } from './database.constants';

/**
 * Where a tenant's data lives: a database on one of the configured clusters,
 * named on the organization's master record (by cluster name, never by URI:
 * URIs hold credentials and rotate).
 */
export interface TenantLocation {
  databaseName: string;
  cluster: string;
}

/** The cluster an organization's record names; absent or null is `default`. */
export const clusterOf = (org: { cluster?: string | null }): string =>
  org.cluster ?? DEFAULT_CLUSTER;

/**
 * Where an organization's data lives, from its master record; `databaseName`
 * names another database of the same organization on its cluster (a rename's
 * source or target).
 */
export const tenantLocationOf = (
  org: { database_name: string; cluster?: string | null },
  databaseName = org.database_name,
): TenantLocation => ({ databaseName, cluster: clusterOf(org) });

interface CachedHandle {
  handle: Connection;
  databaseName: string;
  /** The cluster's root connection the handle was taken from. */
  root: Connection;
}

/**
 * The only code that turns an organization into a database handle. Handles
 * come from `useDb` on their cluster's shared client (one pool per cluster
 * for all of its tenants), kept in one bounded LRU so resolving many tenants
 * cannot grow memory without limit.
 */
@Injectable()
export class TenantConnectionFactory {
  private readonly handles = new Map<string, CachedHandle>();

  constructor(
    private readonly clusters: ClusterConnections,
    @Inject(databaseConfig.KEY) private readonly config: DatabaseConfig,
  ) {}

  locationForSlug(slug: string, cluster: string = DEFAULT_CLUSTER): TenantLocation {
    return { databaseName: `${TENANT_DB_PREFIX}${slug}`, cluster };
  }

  /**
   * The tenant's handle. Rejects with 503 when its cluster is not configured
   * or known to be down (see ClusterConnections), before opening anything.
   */
  async connection(location: TenantLocation): Promise<Connection> {
    const key = cacheKey(location);
    const cached = this.handles.get(key);
    if (cached) {
      // A cached handle of a cluster that went down fails fast like any other.
      await this.clusters.connection(location.cluster);
      // Re-insert to mark as most recently used.
      this.handles.delete(key);
      this.handles.set(key, cached);
      return cached.handle;
    }
    const root = await this.clusters.connection(location.cluster);
    const handle = root.useDb(location.databaseName, { useCache: true });
    this.handles.set(key, { handle, root, databaseName: location.databaseName });
    this.evictOverflow();
    return handle;
  }

  /** A tenant collection's model, compiled once per handle and cached on it. */
  async model<T>(location: TenantLocation, name: string, schema: Schema<T>): Promise<Model<T>> {
    const connection = await this.connection(location);
    return (connection.models[name] as Model<T> | undefined) ?? connection.model<T>(name, schema);
  }

  /** The native driver handle, for bulk work such as copying a database. */
  async db(location: TenantLocation): Promise<Db> {
    const db = (await this.connection(location)).db;
    if (!db) throw new Error('The database client is not connected');
    return db;
  }

  async dropDatabase(location: TenantLocation): Promise<void> {
    await (await this.db(location)).dropDatabase();
    this.forget(location);
  }

  forget(location: TenantLocation): void {
    const key = cacheKey(location);
    const cached = this.handles.get(key);
    if (cached) {
      this.handles.delete(key);
      removeDb(cached);
    }
  }

  /** The names of the tenant databases that exist on `cluster`. */
  async databaseNames(cluster: string): Promise<string[]> {
    const root = await this.clusters.connection(cluster);
    const { databases } = await root.getClient().db().admin().listDatabases({ nameOnly: true });
    return (databases as Array<{ name: string }>)
      .map((d) => d.name)
      .filter((name) => name.startsWith(TENANT_DB_PREFIX));
  }

  get cachedHandleCount(): number {
    return this.handles.size;
  }

  private evictOverflow(): void {
    while (this.handles.size > this.config.tenantCacheSize) {
      const [oldest, cached] = this.handles.entries().next().value as [string, CachedHandle];
      this.handles.delete(oldest);
      removeDb(cached);
    }
  }
}

/** Database names hold no NUL, so the key is unambiguous. */
const cacheKey = (location: TenantLocation) => `${location.cluster}\u0000${location.databaseName}`;

/** Drops mongoose's own cached handle too (`removeDb` is missing from its typings). */
function removeDb({ root, databaseName }: CachedHandle): void {
  (root as Connection & { removeDb(name: string): void }).removeDb(databaseName);
}
