import { setTimeout as sleep } from 'node:timers/promises';
import { Types, type Connection } from 'mongoose';
import { DomainError, orgNotFound } from '../common/errors/domain.error';
import { ErrorCode } from '../common/errors/error-codes';
import type { DatabaseConfig } from '../config/configuration';
import { TenantWriteFence } from './tenant-write-fence';

interface Intent {
  _id: string;
  organization_id: Types.ObjectId;
  expires_at: Date;
}

/**
 * `tenant_write_intents` in memory, answering exactly the calls the fence
 * makes (inserts, deletes by `_id`, the expiry sweep and the count per
 * organization), each of which is atomic on both real servers too.
 */
class IntentCollection {
  readonly docs = new Map<string, Intent>();

  createIndex() {
    return Promise.resolve('organization_id_1');
  }

  insertOne(doc: Intent) {
    if (this.docs.has(doc._id)) return Promise.reject(new Error('E11000 duplicate key'));
    this.docs.set(doc._id, { ...doc });
    return Promise.resolve({ acknowledged: true, insertedId: doc._id });
  }

  deleteOne(filter: { _id: string }) {
    return Promise.resolve({ deletedCount: this.docs.delete(filter._id) ? 1 : 0 });
  }

  deleteMany(filter: { organization_id: Types.ObjectId; expires_at: { $lt: Date } }) {
    let deletedCount = 0;
    for (const [id, doc] of this.docs) {
      if (
        doc.organization_id.equals(filter.organization_id) &&
        doc.expires_at < filter.expires_at.$lt
      ) {
        this.docs.delete(id);
        deletedCount += 1;
      }
    }
    return Promise.resolve({ deletedCount });
  }

  countDocuments(filter: { organization_id: Types.ObjectId }) {
    return Promise.resolve(this.of(filter.organization_id).length);
  }

  of(organizationId: Types.ObjectId): Intent[] {
    return [...this.docs.values()].filter((d) => d.organization_id.equals(organizationId));
  }
}

/** A promise the test settles by hand, to hold a write open. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

const codeOf = (error: unknown) => (error instanceof DomainError ? error.code : String(error));

describe('TenantWriteFence', () => {
  const TTL = 200;
  let intents: IntentCollection;
  let fence: TenantWriteFence;
  let org: Types.ObjectId;

  beforeEach(async () => {
    intents = new IntentCollection();
    const master = { collection: () => intents } as unknown as Connection;
    fence = new TenantWriteFence(master, { tenantWriteDrainMs: TTL } as DatabaseConfig);
    await fence.onModuleInit();
    org = new Types.ObjectId();
  });

  it('registers the intent before the admission check and releases it after the write', async () => {
    const seen: number[] = [];
    const result = await fence.run(
      org,
      () => {
        seen.push(intents.of(org).length);
        return Promise.resolve();
      },
      () => {
        seen.push(intents.of(org).length);
        return Promise.resolve('written');
      },
    );
    expect(result).toBe('written');
    expect(seen).toEqual([1, 1]);
    expect(intents.docs.size).toBe(0);
  });

  it('never writes when admission is refused, answers the refusal and releases the intent', async () => {
    const write = jest.fn(() => Promise.resolve());
    const attempt = fence.run(org, () => Promise.reject(orgNotFound()), write);
    await expect(attempt.catch(codeOf)).resolves.toBe(ErrorCode.ORG_NOT_FOUND);
    expect(write).not.toHaveBeenCalled();
    expect(intents.docs.size).toBe(0);
  });

  it('refuses with ORG_BUSY, without writing, when admission took past half the intent life', async () => {
    const write = jest.fn(() => Promise.resolve());
    const attempt = fence.run(org, () => sleep(TTL / 2 + 30), write);
    await expect(attempt.catch(codeOf)).resolves.toBe(ErrorCode.ORG_BUSY);
    expect(write).not.toHaveBeenCalled();
    expect(intents.docs.size).toBe(0);
  });

  it('releases the intent and passes the error on when the write itself fails', async () => {
    const attempt = fence.run(
      org,
      () => Promise.resolve(),
      () => Promise.reject(new Error('duplicate key')),
    );
    await expect(attempt).rejects.toThrow('duplicate key');
    expect(intents.docs.size).toBe(0);
  });

  it('answers WRITE_OUTCOME_UNKNOWN when a drain reaped the intent while the write ran', async () => {
    const write = gate();
    const writeStarted = gate();
    const attempt = fence.run(
      org,
      () => Promise.resolve(),
      async () => {
        writeStarted.open();
        await write.opened;
        return 'written';
      },
    );
    await writeStarted.opened;
    // The writer stalls past its intent's life; the operation reaps it and goes on.
    await fence.drain(org, () => Promise.resolve());
    expect(intents.docs.size).toBe(0);
    write.open();
    await expect(attempt.catch(codeOf)).resolves.toBe(ErrorCode.WRITE_OUTCOME_UNKNOWN);
  });

  it('makes a drain wait for a live intent until its write is done, renewing the lease meanwhile', async () => {
    const write = gate();
    const writeStarted = gate();
    const events: string[] = [];
    const attempt = fence.run(
      org,
      () => Promise.resolve(),
      async () => {
        writeStarted.open();
        await write.opened;
        events.push('write done');
        return 'written';
      },
    );
    await writeStarted.opened;
    const renew = jest.fn(() => Promise.resolve());
    const drained = fence.drain(org, renew).then(() => events.push('drained'));
    await sleep(TTL / 4);
    expect(events).toEqual([]);
    expect(renew).toHaveBeenCalled();
    write.open();
    await expect(attempt).resolves.toBe('written');
    await drained;
    expect(events).toEqual(['write done', 'drained']);
    expect(intents.docs.size).toBe(0);
  });

  it('makes a drain reap an expired intent (a writer that died) instead of waiting for it', async () => {
    intents.docs.set('dead-writer', {
      _id: 'dead-writer',
      organization_id: org,
      expires_at: new Date(Date.now() - 1),
    });
    const started = Date.now();
    await fence.drain(org, () => Promise.resolve());
    expect(Date.now() - started).toBeLessThan(TTL);
    expect(intents.docs.size).toBe(0);
  });

  it('makes a drain wait for an intent only until it expires', async () => {
    intents.docs.set('stalled-writer', {
      _id: 'stalled-writer',
      organization_id: org,
      expires_at: new Date(Date.now() + TTL),
    });
    const started = Date.now();
    await fence.drain(org, () => Promise.resolve());
    expect(Date.now() - started).toBeGreaterThanOrEqual(TTL - 5);
    expect(intents.docs.size).toBe(0);
  });

  it("makes a drain ignore other organizations' intents", async () => {
    const other = new Types.ObjectId();
    intents.docs.set('other', {
      _id: 'other',
      organization_id: other,
      expires_at: new Date(Date.now() + 60_000),
    });
    const started = Date.now();
    await fence.drain(org, () => Promise.resolve());
    expect(Date.now() - started).toBeLessThan(TTL);
    expect(intents.of(other)).toHaveLength(1);
  });
});
