import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { ThrottlerLimitDetail, ThrottlerStorage } from '@nestjs/throttler';
import type { Collection } from 'mongodb';
import { isDuplicateKeyError } from '../database/mongo-errors';
import { ExpiringCollections } from './expiring-collections.service';
import { GLOBAL_THROTTLER } from './rate-limit.policy';
import { RATE_LIMIT_COLLECTION } from './security.constants';

/** What a storage reports (the interface's record type is not exported on its own). */
type ThrottlerStorageRecord = Omit<ThrottlerLimitDetail, 'ttl' | 'limit' | 'key' | 'tracker'>;

/** One fixed window of one throttler for one client. */
interface CounterDocument {
  _id: string;
  hits: number;
  expires_at: Date;
}

interface Count {
  hits: number;
  expiresAt: number;
}

/** This process's view of one global-limit window. */
interface LocalWindow {
  expiresAt: number;
  /** The shared count when this process last wrote or read it. */
  shared: number;
  /** Hits counted here since, not yet added to the shared count. */
  unsynced: number;
}

/** How stale this process's view of the global limit may get: its hits are added to the shared count this often. */
export const GLOBAL_SYNC_INTERVAL_MS = 1000;
/** Client addresses whose global window is tracked here at once. */
const MAX_LOCAL_WINDOWS = 50_000;

/**
 * `@nestjs/throttler` storage in the master database, so every worker and
 * instance counts against one limit. Fixed windows: the first hit opens a
 * window of `ttl` ms, later hits count in it, and once it holds more than
 * `limit` hits the client is refused until the window ends (so
 * `blockDuration` is moot).
 *
 * The tight limits (login, create) write every hit to the database before
 * answering. The generous global limit covers every request, and a database
 * write per request cut the throughput of a cheap endpoint more than tenfold
 * on FerretDB; so each process writes only the first hit of a window at once
 * and adds its later hits in one `$inc` per second, reading back what the
 * other processes added. A client can therefore exceed the global limit by
 * about one second of its traffic per process, which is fine for a limit
 * meant to catch floods.
 *
 * MongoDB applies `$inc` atomically. FerretDB 1.24 does not isolate
 * concurrent updates of one document, so there concurrent hits can be
 * under-counted; the per-account lock-out, which must be exact, does not use
 * this store (see LoginLockoutService).
 */
@Injectable()
export class MongoThrottlerStorage
  implements ThrottlerStorage, OnModuleInit, OnApplicationShutdown
{
  private readonly logger = new Logger(MongoThrottlerStorage.name);
  private counters!: Collection<CounterDocument>;
  private readonly local = new Map<string, LocalWindow | Promise<LocalWindow>>();
  private timer?: NodeJS.Timeout;
  private flushing?: Promise<void>;
  private lastFlushFailed = false;

  constructor(private readonly expiring: ExpiringCollections) {}

  async onModuleInit(): Promise<void> {
    this.counters = await this.expiring.register<CounterDocument>(
      RATE_LIMIT_COLLECTION,
      'expires_at',
    );
    this.timer = setInterval(() => void this.flushGlobal(), GLOBAL_SYNC_INTERVAL_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.flushGlobal();
  }

  async increment(
    key: string,
    ttl: number,
    limit: number,
    _blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    const { hits, expiresAt } =
      throttlerName === GLOBAL_THROTTLER
        ? await this.batchedHit(key, ttl)
        : await this.sharedHit(key, ttl);
    const secondsLeft = Math.max(1, Math.ceil((expiresAt - Date.now()) / 1000));
    const isBlocked = hits > limit;
    return {
      totalHits: hits,
      timeToExpire: secondsLeft,
      isBlocked,
      timeToBlockExpire: isBlocked ? secondsLeft : 0,
    };
  }

  /** Flushes the local counts of the global limit now (also runs every second). */
  flushGlobal(): Promise<void> {
    this.flushing ??= this.flushLocalWindows().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async sharedHit(key: string, windowMs: number): Promise<Count> {
    const doc = await this.hit(key, windowMs);
    return { hits: doc.hits, expiresAt: doc.expires_at.getTime() };
  }

  private async batchedHit(key: string, windowMs: number): Promise<Count> {
    let entry = this.local.get(key);
    if (entry && !(entry instanceof Promise) && entry.expiresAt <= Date.now()) {
      this.local.delete(key);
      entry = undefined;
    }
    if (!entry) {
      // The first hit of a window here is written at once: it opens the window
      // (or finds the one another process opened) and reads what others counted.
      const opening = this.hit(key, windowMs).then((doc) => {
        const window = { expiresAt: doc.expires_at.getTime(), shared: doc.hits, unsynced: 0 };
        this.local.set(key, window);
        return window;
      });
      this.local.set(key, opening);
      // A failed first hit (database down) is retried by the next request.
      opening.catch(() => {
        if (this.local.get(key) === opening) this.local.delete(key);
      });
      this.evictOverflow();
      const window = await opening;
      return { hits: window.shared, expiresAt: window.expiresAt };
    }
    const window = entry instanceof Promise ? await entry : entry;
    window.unsynced += 1;
    return { hits: window.shared + window.unsynced, expiresAt: window.expiresAt };
  }

  private async flushLocalWindows(): Promise<void> {
    const now = Date.now();
    let failed = false;
    for (const [key, entry] of this.local) {
      if (entry instanceof Promise) continue;
      if (entry.expiresAt <= now) {
        this.local.delete(key);
        continue;
      }
      if (entry.unsynced === 0) continue;
      const delta = entry.unsynced;
      entry.unsynced = 0;
      try {
        const doc = await this.counters.findOneAndUpdate(
          { _id: key, expires_at: new Date(entry.expiresAt) },
          { $inc: { hits: delta } },
          { returnDocument: 'after' },
        );
        // Hits counted while the write was under way stay in `unsynced`.
        if (doc) entry.shared = doc.hits;
        else this.local.delete(key); // the window is gone (purged or replaced): start afresh
      } catch (error) {
        entry.unsynced += delta;
        if (!failed && !this.lastFlushFailed) {
          this.logger.warn({ err: error }, 'Could not add local rate-limit counts; will retry');
        }
        failed = true;
      }
    }
    this.lastFlushFailed = failed;
  }

  private evictOverflow(): void {
    // Oldest windows first; their unsynced hits are forgotten, which only errs toward allowing.
    for (const key of this.local.keys()) {
      if (this.local.size <= MAX_LOCAL_WINDOWS) break;
      this.local.delete(key);
    }
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
