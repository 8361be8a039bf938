import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import { InjectConnection } from '@nestjs/mongoose';
import type { Collection } from 'mongodb';
import type { Connection } from 'mongoose';
import { isDuplicateKeyError } from '../common/errors/mongo-errors';

interface LockDocument {
  _id: string;
  owner: string;
  expires_at: Date;
}

export class LockBusyError extends Error {
  constructor(readonly key: string) {
    super(`Lock ${key} is held`);
    this.name = 'LockBusyError';
  }
}

/**
 * Short critical sections across processes and instances, built on the one
 * primitive MongoDB and FerretDB 1.24 both make atomic: a unique `_id` on
 * insert. (FerretDB's conditional updates are not atomic: two concurrent
 * `findOneAndUpdate({pending: null})` can both match, which was measured
 * here, so read-check-write sequences run under one of these locks.)
 * A holder that dies leaves a lock that expires after `ttlMs`.
 */
@Injectable()
export class MutexService implements OnModuleInit {
  private readonly locks: Collection<LockDocument>;

  constructor(@InjectConnection() master: Connection) {
    this.locks = master.collection<LockDocument>('locks');
  }

  async onModuleInit(): Promise<void> {
    await this.locks.createIndex({ expires_at: 1 }, { name: 'expires_at_1' });
  }

  /**
   * Runs `work` while holding `key`. Waits up to `waitMs` for a holder to
   * finish, then throws LockBusyError.
   */
  async withLock<T>(
    key: string,
    work: (lock: { expiresAt: number }) => Promise<T>,
    options: { ttlMs?: number; waitMs?: number } = {},
  ): Promise<T> {
    const { owner, expiresAt } = await this.acquire(
      key,
      options.ttlMs ?? 10_000,
      options.waitMs ?? 2_000,
    );
    try {
      return await work({ expiresAt });
    } finally {
      await this.locks.deleteOne({ _id: key, owner });
    }
  }

  /** `expiresAt`: when the lock lapses, by the clock read before the insert that won it. */
  private async acquire(
    key: string,
    ttlMs: number,
    waitMs: number,
  ): Promise<{ owner: string; expiresAt: number }> {
    const owner = randomUUID();
    const deadline = Date.now() + waitMs;
    for (let attempt = 0; ; attempt += 1) {
      const expiresAt = Date.now() + ttlMs;
      try {
        await this.locks.insertOne({ _id: key, owner, expires_at: new Date(expiresAt) });
        return { owner, expiresAt };
      } catch (error) {
        if (!isDuplicateKeyError(error)) throw error;
      }
      // A dead holder's lock is removed once expired; the insert above then
      // decides, exclusively, who takes it next.
      await this.locks.deleteOne({ _id: key, expires_at: { $lt: new Date() } });
      if (Date.now() >= deadline) throw new LockBusyError(key);
      await sleep(Math.min(20 * 2 ** attempt, 200));
    }
  }
}
