import { Injectable, type OnModuleInit } from '@nestjs/common';
import type { ThrottlerLimitDetail, ThrottlerStorage } from '@nestjs/throttler';
import type { Collection } from 'mongodb';
import { isDuplicateKeyError } from '../database/mongo-errors';
import { ExpiringCollections } from './expiring-collections.service';
import { RATE_LIMIT_COLLECTION } from './security.constants';

/** What a storage reports (the interface's record type is not exported on its own). */
type ThrottlerStorageRecord = Omit<ThrottlerLimitDetail, 'ttl' | 'limit' | 'key' | 'tracker'>;

/** One fixed window of one throttler for one client. */
interface CounterDocument {
  _id: string;
  hits: number;
  expires_at: Date;
}

/**
 * `@nestjs/throttler` storage in the master database, so every worker and
 * instance counts against one limit. Fixed windows: the first hit opens a
 * window of `ttl` ms, later hits increment it, and once it holds more than
 * `limit` hits the client is refused until the window ends. (Blocking for
 * exactly the rest of the window makes `blockDuration` moot.)
 *
 * MongoDB applies `$inc` atomically. FerretDB 1.24 does not isolate concurrent
 * updates of one document, so there concurrent hits can be under-counted;
 * the security-critical per-account lock-out does not rely on this store (see
 * LoginLockoutService).
 */
@Injectable()
export class MongoThrottlerStorage implements ThrottlerStorage, OnModuleInit {
  private counters!: Collection<CounterDocument>;

  constructor(private readonly expiring: ExpiringCollections) {}

  async onModuleInit(): Promise<void> {
    this.counters = await this.expiring.register<CounterDocument>(
      RATE_LIMIT_COLLECTION,
      'expires_at',
    );
  }

  async increment(
    key: string,
    ttl: number,
    limit: number,
    _blockDuration: number,
    _throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    const { hits, expires_at } = await this.hit(key, ttl);
    const secondsLeft = Math.max(1, Math.ceil((expires_at.getTime() - Date.now()) / 1000));
    const isBlocked = hits > limit;
    return {
      totalHits: hits,
      timeToExpire: secondsLeft,
      isBlocked,
      timeToBlockExpire: isBlocked ? secondsLeft : 0,
    };
  }

  private async hit(key: string, windowMs: number): Promise<CounterDocument> {
    // Two writers opening the same window race on the upsert; the loser
    // (duplicate key) counts in the window the winner opened.
    for (let attempt = 0; attempt < 3; attempt++) {
      const now = new Date();
      const live = await this.counters.findOneAndUpdate(
        { _id: key, expires_at: { $gt: now } },
        { $inc: { hits: 1 } },
        { returnDocument: 'after' },
      );
      if (live) return live;
      try {
        const opened = await this.counters.findOneAndUpdate(
          { _id: key, expires_at: { $lte: now } },
          { $set: { hits: 1, expires_at: new Date(now.getTime() + windowMs) } },
          { upsert: true, returnDocument: 'after' },
        );
        if (opened) return opened;
      } catch (error) {
        if (!isDuplicateKeyError(error)) throw error;
      }
    }
    // Only under extreme contention on one key: count this hit as the first.
    return { _id: key, hits: 1, expires_at: new Date(Date.now() + windowMs) };
  }
}
