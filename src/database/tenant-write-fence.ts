import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { InjectConnection } from '@nestjs/mongoose';
import type { Collection } from 'mongodb';
import type { Connection, Types } from 'mongoose';
import { DomainError, orgBusy, writeOutcomeUnknown } from '../common/errors/domain.error';
import { databaseConfig, type DatabaseConfig } from '../config/configuration';

interface WriteIntent {
  _id: string;
  organization_id: Types.ObjectId;
  expires_at: Date;
}

/**
 * The per-write fence between tenant writes (members, admins) and the
 * operations that move or remove a tenant's data (rename, delete).
 *
 * It is Dekker's handshake on two collections: a writer first registers an
 * intent and then reads the organization; an operation first records itself
 * on the organization and then waits until no intent is left. Whatever the
 * interleaving, one of the two sees the other: either the writer sees the
 * operation and backs off with 409 `ORG_BUSY` before writing, or the
 * operation sees the intent and waits until the write is done, so the copy or
 * drop that follows includes it. Only inserts, reads and deletes by `_id` are
 * used, which MongoDB and FerretDB both execute atomically.
 *
 * An intent expires `TENANT_WRITE_DRAIN_MS` after it was taken, so a writer
 * that died cannot hold an operation up. A writer that was merely paused past
 * that point finds its intent reaped when it comes back: it never writes if
 * it notices before the write (409), and if the write had already been sent
 * it answers 503 `WRITE_OUTCOME_UNKNOWN` instead of acknowledging a write
 * that the operation may not have carried over.
 */
@Injectable()
export class TenantWriteFence implements OnModuleInit {
  private readonly logger = new Logger(TenantWriteFence.name);
  private readonly intents: Collection<WriteIntent>;

  constructor(
    @InjectConnection() master: Connection,
    @Inject(databaseConfig.KEY) private readonly config: DatabaseConfig,
  ) {
    this.intents = master.collection<WriteIntent>('tenant_write_intents');
  }

  async onModuleInit(): Promise<void> {
    await this.intents.createIndex({ organization_id: 1 }, { name: 'organization_id_1' });
  }

  /**
   * Runs one tenant write. `admit` checks that the organization is live and
   * idle (throwing the client's error if not); it runs after the intent is
   * registered, which is what makes the check stick.
   */
  async run<T>(
    organizationId: Types.ObjectId,
    admit: () => Promise<void>,
    write: () => Promise<T>,
    /**
     * Cleans up after a write that landed after its intent was reaped, where
     * it can do harm: an insert into a database a delete already dropped
     * recreates that database.
     */
    stray?: (result: T) => Promise<void>,
  ): Promise<T> {
    const ttl = this.config.tenantWriteDrainMs;
    const startedAt = Date.now();
    const intent: WriteIntent = {
      _id: randomUUID(),
      organization_id: organizationId,
      expires_at: new Date(startedAt + ttl),
    };
    await this.intents.insertOne(intent);
    let result: T;
    try {
      await admit();
      // Self-fencing on the local clock: past half the intent's life an
      // operation may be about to reap it, so do not start the write at all.
      if (Date.now() - startedAt > ttl / 2) throw orgBusy();
      result = await write();
    } catch (error) {
      const released = await this.release(intent._id);
      // A client error (not found, duplicate, busy) means nothing was written;
      // anything else from a write whose intent was reaped may have landed.
      if (!released && !(error instanceof DomainError)) throw writeOutcomeUnknown();
      throw error;
    }
    if (!(await this.release(intent._id))) {
      await stray?.(result).catch((error: unknown) =>
        this.logger.warn({ err: error }, 'Could not clean up after a stray tenant write'),
      );
      throw writeOutcomeUnknown();
    }
    return result;
  }

  /**
   * Waits until every write that registered its intent before this call has
   * finished or expired. Called by an operation after it has recorded itself
   * on the organization, so no later write can pass its admission check.
   */
  async drain(organizationId: Types.ObjectId, renew: () => Promise<void>): Promise<void> {
    for (let attempt = 0; ; attempt += 1) {
      await this.intents.deleteMany({
        organization_id: organizationId,
        expires_at: { $lt: new Date() },
      });
      const left = await this.intents.countDocuments({ organization_id: organizationId });
      if (left === 0) return;
      // Bounded: every intent expires within one drain period.
      await renew();
      await sleep(Math.min(10 * 2 ** attempt, 100));
    }
  }

  /** True when the intent was still ours to delete (no operation reaped it). */
  private async release(id: string): Promise<boolean> {
    const { deletedCount } = await this.intents.deleteOne({ _id: id });
    return deletedCount === 1;
  }
}
