import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Db } from 'mongodb';
import type { Types } from 'mongoose';
import { TENANT_META_COLLECTION } from './database.constants';
import { isDuplicateKeyError } from '../common/errors/mongo-errors';
import { databaseConfig, type DatabaseConfig } from '../config/configuration';
import { TenantConnectionFactory, type TenantLocation } from './tenant-connection.factory';

/** The one document of `_tenant_meta`. */
const TENANT_META_ID = 'tenant';

interface TenantMetaDocument {
  _id: string;
  organization_id?: Types.ObjectId;
  /**
   * The master database of the deployment that made this database. Several
   * deployments (staging and production, two services) may share a server:
   * an organization missing from our master proves nothing about theirs.
   * Absent in databases made before it was recorded.
   */
  master?: string;
  /** The create or rename operation that made this database. */
  op_id?: string;
  created_at?: Date;
  schema_version?: number;
}

/**
 * Whose a tenant database is, as recorded in the database itself:
 * - `empty`: no documents at all, so dropping it can lose nothing;
 * - `owned`: its `_tenant_meta` names the organization and the operation that
 *   made it, and whether this deployment's master made it (`thisMaster`; false
 *   for another deployment's, and for metadata older than that record);
 * - `foreign`: documents without our metadata, which no protocol ever drops or adopts.
 */
export type TenantOwner =
  | {
      kind: 'empty';
      /** Collections without documents are there (a late write's leftovers), or metadata naming no owner. */
      leftovers: boolean;
    }
  | { kind: 'owned'; organizationId: string; opId: string | null; thisMaster: boolean }
  | { kind: 'foreign' };

/**
 * The one place that reads and writes `_tenant_meta` (ownership and schema
 * version), and the only
 * way the lifecycle drops a tenant database: every drop re-reads ownership
 * right before it and goes ahead only if the caller's rule accepts the owner.
 */
@Injectable()
export class TenantOwnership {
  private readonly logger = new Logger(TenantOwnership.name);

  private readonly master: string;

  constructor(
    private readonly tenants: TenantConnectionFactory,
    @Inject(databaseConfig.KEY) config: DatabaseConfig,
  ) {
    this.master = config.masterDbName;
  }

  async inspect(location: TenantLocation): Promise<TenantOwner> {
    const db = await this.tenants.db(location);
    const meta = await this.meta(db);
    if (meta?.organization_id) {
      return {
        kind: 'owned',
        organizationId: String(meta.organization_id),
        opId: meta.op_id ?? null,
        thisMaster: meta.master === this.master,
      };
    }
    // Metadata that names no owner (a late schema-version write), and
    // collections a late write created without documents, hold nothing: the
    // name is free.
    const collections = await db.listCollections({}, { nameOnly: true }).toArray();
    for (const { name } of collections) {
      if (name.startsWith('system.') || name === TENANT_META_COLLECTION) continue;
      if ((await db.collection(name).countDocuments({}, { limit: 1 })) > 0)
        return { kind: 'foreign' };
    }
    return { kind: 'empty', leftovers: collections.length > 0 };
  }

  /**
   * Records the owner before any data goes in, so ownership can always be
   * proven. An insert, never an overwrite: a late write from a stalled
   * process can never take over metadata that someone else recorded since.
   * True if recorded now or already recorded by this same operation.
   */
  async record(
    location: TenantLocation,
    owner: { organizationId: Types.ObjectId; opId: string; schemaVersion?: number },
  ): Promise<boolean> {
    const meta = (await this.tenants.db(location)).collection<TenantMetaDocument>(
      TENANT_META_COLLECTION,
    );
    try {
      await meta.insertOne({
        _id: TENANT_META_ID,
        organization_id: owner.organizationId,
        master: this.master,
        op_id: owner.opId,
        created_at: new Date(),
        schema_version: owner.schemaVersion ?? 0,
      });
      return true;
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
      const existing = await meta.findOne({ _id: TENANT_META_ID });
      if (existing?.op_id === owner.opId) return true;
      // Metadata that names no owner holds nothing: replace it, but only it.
      if (existing && !existing.organization_id) {
        const { deletedCount } = await meta.deleteOne({
          _id: TENANT_META_ID,
          organization_id: { $exists: false },
        });
        if (deletedCount === 1) return this.record(location, owner);
      }
      return false;
    }
  }

  /**
   * Drops the database only if `accept` approves of its owner as read right
   * now. Returns whether it was dropped (or there was nothing to drop).
   */
  async dropIf(
    location: TenantLocation,
    accept: (owner: TenantOwner) => boolean,
    /** Last check right before the drop (an operation's lease still fresh). */
    guard?: () => void,
  ): Promise<boolean> {
    const owner = await this.inspect(location);
    if (!accept(owner)) {
      this.logger.warn(
        { database: location.databaseName, owner: owner.kind },
        'Left a database in place that this operation does not own',
      );
      return false;
    }
    guard?.();
    await this.tenants.dropDatabase(location);
    return true;
  }

  /** The tenant schema version its metadata records; 0 when none is recorded. */
  async schemaVersion(db: Db): Promise<number> {
    return (await this.meta(db))?.schema_version ?? 0;
  }

  /** Raises the recorded schema version (never lowers it). */
  async recordSchemaVersion(db: Db, version: number): Promise<void> {
    await db.collection<TenantMetaDocument>(TENANT_META_COLLECTION).updateOne(
      { _id: TENANT_META_ID },
      { $max: { schema_version: version } },
      // Never recreate a database a drop removed under a stalled migration.
      { upsert: false },
    );
  }

  private meta(db: Db): Promise<TenantMetaDocument | null> {
    return db
      .collection<TenantMetaDocument>(TENANT_META_COLLECTION)
      .findOne({ _id: TENANT_META_ID });
  }
}

/**
 * The ownership rule of the lifecycle's destructive steps: the database's own
 * metadata names this organization (and, for a rename's target or a create's
 * database, this very operation). An `empty` database is left alone here:
 * it holds nothing, and a create may be about to record itself in it.
 */
export const ownedBy =
  (organizationId: Types.ObjectId, opId?: string) =>
  (owner: TenantOwner): boolean =>
    owner.kind === 'owned' &&
    owner.organizationId === String(organizationId) &&
    (opId === undefined || owner.opId === opId);
