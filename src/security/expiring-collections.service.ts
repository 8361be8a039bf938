import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { InjectConnection } from '@nestjs/mongoose';
import type { Collection, Document } from 'mongodb';
import type { Connection } from 'mongoose';
import { PURGE_INTERVAL_MS } from './security.constants';

/** FerretDB 1.24 answers `expireAfterSeconds` with this code ("not implemented yet"). */
const NOT_IMPLEMENTED = 238;

export type ExpiryMode = 'ttl-index' | 'purge-only';

interface Registration {
  collection: Collection<Document>;
  field: string;
}

/**
 * Short-lived master-database entries: rate-limit counters, login attempts,
 * revoked tokens. Each carries a date after which it means nothing.
 *
 * MongoDB deletes such entries itself through a TTL index, but FerretDB 1.24
 * has no TTL indexes. So the TTL index is created where the server supports
 * it (a plain index otherwise), every read also filters on the date, and a
 * periodic purge deletes what has expired. Behaviour is therefore the same on
 * both servers; only disk usage between purges differs.
 */
@Injectable()
export class ExpiringCollections implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ExpiringCollections.name);
  private readonly registrations: Registration[] = [];
  private readonly modes = new Map<string, ExpiryMode>();
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private lastPurgeFailed = false;

  constructor(@InjectConnection() private readonly connection: Connection) {}

  /**
   * The master-database collection `name`, whose entries expire at the date
   * in `field`. Idempotent per collection.
   */
  async register<T extends Document>(name: string, field: string): Promise<Collection<T>> {
    const db = this.connection.db;
    if (!db) throw new Error('The master database connection is not open');
    const collection = db.collection<T>(name);
    if (!this.modes.has(name)) {
      const mode = await ensureExpiryIndex(collection as unknown as Collection<Document>, field);
      this.modes.set(name, mode);
      this.registrations.push({ collection: collection as unknown as Collection<Document>, field });
      if (mode === 'purge-only') {
        this.logger.log(
          `${name}: the server has no TTL indexes; expired entries are purged every ${PURGE_INTERVAL_MS / 1000} s`,
        );
      }
    }
    return collection;
  }

  /** How the server expires entries of `name` (for tests and diagnostics). */
  expiryMode(name: string): ExpiryMode | undefined {
    return this.modes.get(name);
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => this.sweep(), PURGE_INTERVAL_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Deletes every expired entry now; returns how many. */
  async purgeExpired(now = new Date()): Promise<number> {
    let deleted = 0;
    for (const { collection, field } of this.registrations) {
      const result = await collection.deleteMany({ [field]: { $lte: now } });
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

/** A TTL index on `field` where the server has them, a plain index (for the purge) otherwise. */
export async function ensureExpiryIndex(
  collection: Collection<Document>,
  field: string,
): Promise<ExpiryMode> {
  const name = `${field}_expiry`;
  try {
    await collection.createIndex({ [field]: 1 }, { name, expireAfterSeconds: 0 });
    return 'ttl-index';
  } catch (error) {
    if ((error as { code?: unknown }).code !== NOT_IMPLEMENTED) throw error;
    await collection.createIndex({ [field]: 1 }, { name });
    return 'purge-only';
  }
}
