import { Logger } from '@nestjs/common';
import type { Model } from 'mongoose';

const NOT_IMPLEMENTED = 238;
const logger = new Logger('ExpiringCollection');

/**
 * Documents that expire at their `expires_at`. MongoDB deletes them with a
 * TTL index; FerretDB 1.24 has no TTL indexes, so there a plain index plus a
 * periodic purge does the same job. Readers must still filter on
 * `expires_at` because neither mechanism is instantaneous.
 */
export class ExpiringCollection {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly model: Model<any>, // eslint-disable-line @typescript-eslint/no-explicit-any
    private readonly purgeEveryMs = 60_000,
  ) {}

  async start(): Promise<void> {
    const native = await this.ensureIndex();
    if (native) return;
    await this.purge();
    this.timer = setInterval(() => {
      this.purge().catch((error: unknown) =>
        logger.warn({ err: error }, 'Purge failed; will retry'),
      );
    }, this.purgeEveryMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async purge(now = new Date()): Promise<number> {
    const result = await this.model.collection.deleteMany({ expires_at: { $lt: now } });
    return result.deletedCount;
  }

  /** True when the server expires documents itself. */
  private async ensureIndex(): Promise<boolean> {
    try {
      await this.model.collection.createIndex(
        { expires_at: 1 },
        { name: 'expires_at_ttl', expireAfterSeconds: 0 },
      );
      return true;
    } catch (error) {
      if ((error as { code?: unknown }).code !== NOT_IMPLEMENTED) throw error;
      await this.model.collection.createIndex({ expires_at: 1 }, { name: 'expires_at_1' });
      return false;
    }
  }
}
