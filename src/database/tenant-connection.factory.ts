import { Inject, Injectable } from '@nestjs/common';
import { InjectConnection } from '@nestjs/mongoose';
import type { Db } from 'mongodb';
import type { Connection, Model, Schema } from 'mongoose';
import { databaseConfig, type DatabaseConfig } from '../config/configuration';
import { TENANT_DB_PREFIX } from './database.constants';

/**
 * Where a tenant's data lives. Stored on the organization's master record;
 * `clusterUri` is reserved for moving a large tenant to its own cluster.
 */
export interface TenantLocation {
  databaseName: string;
  clusterUri?: string | null;
}

/** Where an organization's data lives, from its master record. */
export const tenantLocationOf = (org: {
  database_name: string;
  cluster_uri?: string | null;
}): TenantLocation => ({ databaseName: org.database_name, clusterUri: org.cluster_uri ?? null });

/**
 * The only code that turns an organization into a database handle. Handles
 * come from `useDb` on the shared client (one pool for every tenant), kept in
 * a bounded LRU so resolving many tenants cannot grow memory without limit.
 */
@Injectable()
export class TenantConnectionFactory {
  private readonly handles = new Map<string, Connection>();

  constructor(
    @InjectConnection() private readonly master: Connection,
    @Inject(databaseConfig.KEY) private readonly config: DatabaseConfig,
  ) {}

  locationForSlug(slug: string): TenantLocation {
    return { databaseName: `${TENANT_DB_PREFIX}${slug}`, clusterUri: null };
  }

  connection(location: TenantLocation): Connection {
    if (location.clusterUri) {
      throw new Error('Per-organization clusters are not supported yet');
    }
    const name = location.databaseName;
    const cached = this.handles.get(name);
    if (cached) {
      // Re-insert to mark as most recently used.
      this.handles.delete(name);
      this.handles.set(name, cached);
      return cached;
    }
    const handle = this.master.useDb(name, { useCache: true });
    this.handles.set(name, handle);
    this.evictOverflow();
    return handle;
  }

  /** A tenant collection's model, compiled once per handle and cached on it. */
  model<T>(location: TenantLocation, name: string, schema: Schema<T>): Model<T> {
    const connection = this.connection(location);
    return (connection.models[name] as Model<T> | undefined) ?? connection.model<T>(name, schema);
  }

  /** The native driver handle, for bulk work such as copying a database. */
  db(location: TenantLocation): Db {
    const db = this.connection(location).db;
    if (!db) throw new Error('The database client is not connected');
    return db;
  }

  async dropDatabase(location: TenantLocation): Promise<void> {
    await this.db(location).dropDatabase();
    this.forget(location);
  }

  forget(location: TenantLocation): void {
    if (this.handles.delete(location.databaseName)) {
      this.removeDb(location.databaseName);
    }
  }

  get cachedHandleCount(): number {
    return this.handles.size;
  }

  /** Drops mongoose's own cached handle too (`removeDb` is missing from its typings). */
  private removeDb(name: string): void {
    (this.master as Connection & { removeDb(name: string): void }).removeDb(name);
  }

  private evictOverflow(): void {
    while (this.handles.size > this.config.tenantCacheSize) {
      const oldest = this.handles.keys().next().value as string;
      this.handles.delete(oldest);
      this.removeDb(oldest);
    }
  }
}
