import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectConnection } from '@nestjs/mongoose';
import type { Db } from 'mongodb';
import type { Connection } from 'mongoose';
import { databaseConfig, type DatabaseConfig } from '../config/configuration';
import { ClusterUnreachableError } from '../database/cluster-connections';
import { TenantConnectionFactory } from '../database/tenant-connection.factory';
import { TenantOwnership } from '../database/tenant-ownership';
import { OrganizationsRepository } from '../organizations/organizations.repository';
import { LATEST_MASTER_VERSION, MASTER_MIGRATIONS } from './master-migrations';
import { LATEST_TENANT_VERSION, type Migration, TENANT_MIGRATIONS } from './tenant-migrations';

const MASTER_VERSION_COLLECTION = 'schema_migrations';
const MASTER_VERSION_ID = 'master';

export interface MigrationReport {
  master: { from: number; to: number };
  tenants: { total: number; migrated: number; upToDate: number; skipped: string[] };
}

export interface MigrationProgress {
  total: number;
  done: number;
  database: string;
}

async function applyPending<T>(
  migrations: ReadonlyArray<Migration<T>>,
  target: T,
  from: number,
  record: (version: number) => Promise<void>,
): Promise<number> {
  let version = from;
  for (const migration of migrations) {
    if (migration.version <= version) continue;
    await migration.up(target);
    // Recorded after each step, so an interrupted run resumes where it stopped.
    await record(migration.version);
    version = migration.version;
  }
  return version;
}

/**
 * Versioned migrations for the master database and every tenant database,
 * each recording its own `schema_version`. Safe to run twice and from
 * several processes: migrations are idempotent and versions only move up.
 */
@Injectable()
export class MigrationsService implements OnApplicationBootstrap {
  private readonly logger = new Logger(MigrationsService.name);

  constructor(
    @InjectConnection() private readonly master: Connection,
    private readonly organizations: OrganizationsRepository,
    private readonly tenants: TenantConnectionFactory,
    private readonly ownership: TenantOwnership,
    @Inject(databaseConfig.KEY) private readonly config: DatabaseConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.migrateOnStart) return;
    const report = await this.migrateAll();
    this.logger.log({ report }, 'Migrations applied at start-up');
  }

  /** Brings a freshly created tenant database to the latest version. */
  async initialiseTenant(db: Db): Promise<number> {
    return this.migrateTenantDb(db, 0);
  }

  async migrateAll(onProgress?: (p: MigrationProgress) => void): Promise<MigrationReport> {
    const masterFrom = await this.masterVersion();
    const masterTo = await applyPending(MASTER_MIGRATIONS, this.masterDb(), masterFrom, (v) =>
      this.recordMasterVersion(v),
    );

    const tenants = await this.organizations.tenantDatabases();
    const report: MigrationReport = {
      master: { from: masterFrom, to: masterTo },
      tenants: { total: tenants.length, migrated: 0, upToDate: 0, skipped: [] },
    };
    let done = 0;
    for (const { location, busy } of tenants) {
      // An operation in flight owns the organization's data, or its cluster
      // cannot be reached now; the next run picks it up.
      const db = busy ? undefined : await this.tenants.db(location).catch(unlessUnreachable);
      if (!db) report.tenants.skipped.push(location.databaseName);
      else {
        const from = await this.tenantVersion(db);
        if (from >= LATEST_TENANT_VERSION) report.tenants.upToDate += 1;
        else {
          await this.migrateTenantDb(db, from);
          report.tenants.migrated += 1;
        }
      }
      done += 1;
      onProgress?.({ total: tenants.length, done, database: location.databaseName });
    }
    return report;
  }

  tenantVersion(db: Db): Promise<number> {
    return this.ownership.schemaVersion(db);
  }

  private migrateTenantDb(db: Db, from: number): Promise<number> {
    return applyPending(TENANT_MIGRATIONS, db, from, (version) =>
      this.ownership.recordSchemaVersion(db, version),
    );
  }

  private masterDb(): Db {
    if (!this.master.db) throw new Error('The database client is not connected');
    return this.master.db;
  }

  private async masterVersion(): Promise<number> {
    const doc = await this.masterDb()
      .collection<{ _id: string; version?: number }>(MASTER_VERSION_COLLECTION)
      .findOne({ _id: MASTER_VERSION_ID });
    return doc?.version ?? 0;
  }

  private async recordMasterVersion(version: number): Promise<void> {
    await this.masterDb()
      .collection<{ _id: string }>(MASTER_VERSION_COLLECTION)
      .updateOne({ _id: MASTER_VERSION_ID }, { $max: { version } }, { upsert: true });
  }
}

/** Undefined for a tenant whose cluster is down or not configured; other errors stand. */
function unlessUnreachable(error: unknown): undefined {
  if (!(error instanceof ClusterUnreachableError)) throw error;
  return undefined;
}

export { LATEST_MASTER_VERSION, LATEST_TENANT_VERSION };
