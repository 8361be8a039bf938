import { randomUUID } from 'node:crypto';
import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { ThrottlerLimitDetail, ThrottlerStorage } from '@nestjs/throttler';
import type { Collection } from 'mongodb';
import { isDuplicateKeyError } from '../common/errors/mongo-errors';
import { ExpiringCollections } from '../database/expiring-collections.service';
import { GLOBAL_THROTTLER } from './rate-limit.policy';
import { RATE_LIMIT_COLLECTION } from './rate-limit.constants';

/** What a storage reports (the interface's record type is not exported on its own). */
type ThrottlerStorageRecord = Omit<ThrottlerLimitDetail, 'ttl' | 'limit' | 'key' | 'tracker'>;

/**
 * Every document of the store is written once, by an insert whose `_id`
 * decides, and never updated:
 *
 * - `<key>:g:<generation>`: a window of one throttler for one client, opened
 *   by the first hit after the previous window ended;
 * - `<key>:<window start>:s:<n>`: the n-th hit of an exact window (login,
 *   create);
 * - `<key>:<window start>:b:<uuid>`: hits a process counted for the global
 *   limit and added in one batch (`hits`).
 */
interface RateLimitDocument {
  _id: string;
  expires_at: Date;
  /** Windows only. */
  generation?: number;
  start?: Date;
  /** Batches only. */
  hits?: number;
}

interface Window {
  start: number;
  expiresAt: number;
}

interface Count {
  hits: number;
  expiresAt: number;
}

/** This process's view of one global-limit window. */
interface LocalWindow extends Window {
  key: string;
  /** The shared count when this process last wrote or read it. */
  shared: number;
  /** Hits counted here since, not yet added to the shared count. */
  unsynced: number;
}

/** How stale this process's view of the global limit may get: its hits are added to the shared count this often. */
export const GLOBAL_SYNC_INTERVAL_MS = 1000;
/** Client addresses whose global window is tracked here at once. */
const MAX_LOCAL_WINDOWS = 50_000;
/** Wide enough for any RATE_LIMIT_* count (nine digits), so `_id`s sort by number. */
const pad = (n: number) => String(n).padStart(10, '0');
/** Every `_id` that starts with `prefix` (all of them are printable ASCII below `~`). */
const prefixed = (prefix: string) => ({ $gt: prefix, $lt: `${prefix}~` });

/**
 * `@nestjs/throttler` storage in the master database, so every worker and
 * instance counts against one limit. Fixed windows: the first hit opens a
 * window of `ttl` ms, and a client whose window holds `limit` hits is refused
 * until the window ends (so `blockDuration` is moot).
 *
 * Built on the one write both MongoDB and FerretDB 1.24 make atomic, an
 * insert that a unique `_id` admits or refuses: FerretDB does not isolate
 * concurrent updates of one document, so a shared `$inc` counter lost hits
 * there, and 60 parallel logins from one address all got past a limit of 30
 * Here nothing is ever updated:
 *
 * - a window is opened by inserting generation g+1 once generation g has
 *   ended, so exactly one opener wins;
 * - the tight limits (login, create) admit a hit by inserting the next free
 *   slot `n` of the window: exactly `limit` slots exist, so exactly `limit`
 *   hits get through however they are interleaved (a refused hit writes
 *   nothing);
 * - the generous global limit covers every request, and a database write per
 *   request cut the throughput of a cheap endpoint more than tenfold on
 *   FerretDB; so each process inserts the first hit of a window at once and
 *   later hits as one batch document per second, reading back the sum of
 *   all batches. A client can therefore exceed the global limit by about one
 *   second of its traffic per process, which is fine for a limit meant to
 *   catch floods, and no batch is ever lost to a race.
 *
 * Old documents expire with their window (ExpiringCollections).
 */
@Injectable()
export class MongoThrottlerStorage
  implements ThrottlerStorage, OnModuleInit, OnApplicationShutdown
{
  private readonly logger = new Logger(MongoThrottlerStorage.name);
  private store!: Collection<RateLimitDocument>;
  private readonly local = new Map<string, LocalWindow | Promise<LocalWindow>>();
  private timer?: NodeJS.Timeout;
  private flushing?: Promise<void>;
  private lastFlushFailed = false;

  constructor(private readonly expiring: ExpiringCollections) {}

  async onModuleInit(): Promise<void> {
    this.store = await this.expiring.register<RateLimitDocument>(RATE_LIMIT_COLLECTION);
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
        : await this.exactHit(key, ttl, limit);
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

  /** The client's live window, opened by this hit if the last one has ended. */
  private async currentWindow(key: string, windowMs: number): Promise<Window> {
    for (;;) {
      const [latest] = await this.store
        .find({ _id: prefixed(`${key}:g:`) })
        .sort({ _id: -1 })
        .limit(1)
        .toArray();
      const now = Date.now();
      if (latest?.start && latest.expires_at.getTime() > now) {
        return { start: latest.start.getTime(), expiresAt: latest.expires_at.getTime() };
      }
      const generation = (latest?.generation ?? -1) + 1;
      const window = { start: now, expiresAt: now + windowMs };
      try {
        await this.store.insertOne({
          _id: `${key}:g:${pad(generation)}`,
          generation,
          start: new Date(window.start),
          expires_at: new Date(window.expiresAt),
        });
        return window;
      } catch (error) {
        // Another hit opened this generation first: use the window it opened.
        if (!isDuplicateKeyError(error)) throw error;
      }
    }
  }

  private async exactHit(key: string, windowMs: number, limit: number): Promise<Count> {
    const window = await this.currentWindow(key, windowMs);
    const slots = `${key}:${window.start}:s:`;
    for (;;) {
      const taken = await this.store.countDocuments({ _id: prefixed(slots) });
      if (taken >= limit) return { hits: taken + 1, expiresAt: window.expiresAt };
      // A random slot of the window's `limit`: concurrent hits rarely pick the
      // same one (taking "the next" slot made every concurrent hit but one
      // retry, quadratic in the burst), and only `limit` slots can ever exist.
      const slot = 1 + Math.floor(Math.random() * limit);
      try {
        await this.store.insertOne({
          _id: `${slots}${pad(slot)}`,
          expires_at: new Date(window.expiresAt),
        });
        return { hits: taken + 1, expiresAt: window.expiresAt };
      } catch (error) {
        if (!isDuplicateKeyError(error)) throw error;
      }
    }
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
      const opening = this.openLocalWindow(key, windowMs).then((window) => {
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

  private async openLocalWindow(key: string, windowMs: number): Promise<LocalWindow> {
    const window = await this.currentWindow(key, windowMs);
    const local = { key, ...window, shared: 0, unsynced: 0 };
    await this.insertBatch(local, 1);
    local.shared = await this.sharedCount(local);
    return local;
  }

  /** Adds `hits` to the window's shared count, as a document of their own. */
  private async insertBatch(window: LocalWindow, hits: number): Promise<void> {
    await this.store.insertOne({
      _id: `${window.key}:${window.start}:b:${randomUUID()}`,
      hits,
      expires_at: new Date(window.expiresAt),
    });
  }

  /** The window's count across every process: the sum of its batches. */
  private async sharedCount(window: LocalWindow): Promise<number> {
    const batches = await this.store
      .find({ _id: prefixed(`${window.key}:${window.start}:b:`) }, { projection: { hits: 1 } })
      .toArray();
    return batches.reduce((sum, batch) => sum + (batch.hits ?? 0), 0);
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
      let written = false;
      try {
        await this.insertBatch(entry, delta);
        written = true;
        entry.shared += delta;
        // Hits counted while these writes were under way stay in `unsynced`.
        entry.shared = Math.max(entry.shared, await this.sharedCount(entry));
      } catch (error) {
        // Only a batch that was not written is added again next time.
        if (!written) entry.unsynced += delta;
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
}
