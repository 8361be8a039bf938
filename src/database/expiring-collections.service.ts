import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { InjectConnection } from '@nestjs/mongoose';
import type { Collection, Document, IndexDescriptionInfo } from 'mongodb';
import type { Connection } from 'mongoose';

/** FerretDB 1.24 answers `expireAfterSeconds` with this code ("not implemented yet"). */
const NOT_IMPLEMENTED = 238;
/** listIndexes on a collection that does not exist yet. */
const NAMESPACE_NOT_FOUND = 26;

/** How often expired entries are deleted where the server has no TTL indexes. */
export const PURGE_INTERVAL_MS = 60_000;

/** The date field every expiring collection of this service carries. */
export const EXPIRES_AT = 'expires_at';

export type ExpiryMode = 'ttl-index' | 'purge-only';

/**
 * Master-database collections whose entries mean nothing after a date:
 * rate-limit counters, login attempts, revoked tokens, idempotency records,
 * audit events.
 *
 * MongoDB deletes such entries itself through a TTL index, but FerretDB 1.24
 * has no TTL indexes. So the TTL index is created where the server supports
 * it (a plain index otherwise), every read also filters on the date, and one
 * periodic purge deletes what has expired from every registered collection.
 * Behaviour is therefore the same on both servers; only disk usage between
 * purges differs.
 */
@Injectable()
export class ExpiringCollections implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ExpiringCollections.name);
  private readonly registrations = new Map<
    string,
    { collection: Collection<Document>; mode: ExpiryMode }
  >();
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private lastPurgeFailed = false;

  constructor(@InjectConnection() private readonly connection: Connection) {}

  /**
   * The master-database collection `name`, whose entries expire at their
   * `expires_at`. Idempotent per collection.
   */
  async register<T extends Document>(name: string): Promise<Collection<T>> {
    const db = this.connection.db;
    if (!db) throw new Error('The master database connection is not open');
    const collection = db.collection<T>(name);
    if (!this.registrations.has(name)) {
      const untyped = collection as unknown as Collection<Document>;
      const mode = await ensureExpiryIndex(untyped);
      this.registrations.set(name, { collection: untyped, mode });
      if (mode === 'purge-only') {
        this.logger.log(
          `${name}: no TTL index; expired entries are purged every ${PURGE_INTERVAL_MS / 1000} s`,
        );
      }
    }
    return collection;
  }

  /** How the server expires entries of `name` (for tests and diagnostics). */
  expiryMode(name: string): ExpiryMode | undefined {
    return this.registrations.get(name)?.mode;
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => this.sweep(), PURGE_INTERVAL_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Deletes every expired entry of every registered collection now; returns how many. */
  async purgeExpired(now = new Date()): Promise<number> {
    let deleted = 0;
    for (const { collection } of this.registrations.values()) {
      const result = await collection.deleteMany({ [EXPIRES_AT]: { $lte: now } });
      deleted += result.deletedCount;
    }
    return deleted;
  }

  private sweep(): void {
    if (this.running) return;
    this.running = this.purgeExpired()
      .then(() => (this.lastPurgeFailed = false))
      .catch((error: unknown) => {
        // During a database outage this fails every minute; say so once.
        if (!this.lastPurgeFailed)
          this.logger.warn({ err: error }, 'Purging expired entries failed');
        this.lastPurgeFailed = true;
      })
      .finally(() => (this.running = undefined));
  }
}

/**
 * A TTL index on `expires_at` where the server has them, a plain index (for
 * the purge) otherwise. An index on the field that already exists is kept
 * whatever its name, so databases written by earlier versions need no
 * migration (creating the same key under another name would be refused).
 */
async function ensureExpiryIndex(collection: Collection<Document>): Promise<ExpiryMode> {
  const existing = (await existingIndexes(collection)).find(
    (index) => Object.keys(index.key).join() === EXPIRES_AT && index.key[EXPIRES_AT] === 1,
  );
  if (existing) return existing.expireAfterSeconds === undefined ? 'purge-only' : 'ttl-index';
  const name = `${EXPIRES_AT}_expiry`;
  try {
    await collection.createIndex({ [EXPIRES_AT]: 1 }, { name, expireAfterSeconds: 0 });
    return 'ttl-index';
  } catch (error) {
    if ((error as { code?: unknown }).code !== NOT_IMPLEMENTED) throw error;
    await collection.createIndex({ [EXPIRES_AT]: 1 }, { name });
    return 'purge-only';
  }
}

async function existingIndexes(collection: Collection<Document>): Promise<IndexDescriptionInfo[]> {
  try {
    return await collection.indexes();
  } catch (error) {
    if ((error as { code?: unknown }).code === NAMESPACE_NOT_FOUND) return [];
    throw error;
  }
}
