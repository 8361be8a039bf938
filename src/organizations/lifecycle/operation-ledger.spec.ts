import type { Connection, Model } from 'mongoose';
import { Types } from 'mongoose';
import { DomainError } from '../../common/errors/domain.error';
import type { DatabaseConfig } from '../../config/configuration';
import type { Organization } from '../schemas/organization.schema';
import { OperationLedger, type OperationLease } from './operation-ledger';

const LEASE_MS = 1000;

/** Fences held in memory: enough of a collection for the ledger's reads and inserts. */
function fakeMaster(fences: Set<string>) {
  const fenceCollection = {
    findOne: jest.fn((filter: { _id: string }) =>
      Promise.resolve(fences.has(filter._id) ? { _id: filter._id } : null),
    ),
    find: (filter: { op_id: string }) => {
      const highest = [...fences]
        .filter((id) => id.startsWith(`${filter.op_id}:`))
        .map((id) => ({ fence: Number(id.split(':')[1]) }))
        .sort((a, b) => b.fence - a.fence);
      const chain = {
        sort: () => chain,
        limit: (n: number) => ({ toArray: () => Promise.resolve(highest.slice(0, n)) }),
      };
      return chain;
    },
    insertOne: jest.fn((doc: { _id: string }) => {
      if (fences.has(doc._id))
        return Promise.reject(Object.assign(new Error('dup'), { code: 11000 }));
      fences.add(doc._id);
      return Promise.resolve({});
    }),
  };
  return {
    collection: (name: string) => (name === 'operation_fences' ? fenceCollection : {}),
  } as unknown as Connection;
}

const organizations = {
  updateOne: () => ({ exec: () => Promise.resolve({ matchedCount: 1 }) }),
} as unknown as Model<Organization>;

describe('OperationLedger', () => {
  let now: number;
  let fences: Set<string>;
  let ledger: OperationLedger;
  let lease: OperationLease;

  beforeEach(async () => {
    now = 1_000_000;
    jest.spyOn(Date, 'now').mockImplementation(() => now);
    fences = new Set();
    ledger = new OperationLedger(fakeMaster(fences), organizations, {
      operationLeaseMs: LEASE_MS,
    } as DatabaseConfig);
    lease = await ledger.open(new Types.ObjectId(), 'op', 'rename');
  });
  afterEach(() => jest.restoreAllMocks());

  const INTERRUPTED = { code: 'OPERATION_INTERRUPTED' };

  it('refuses to write once a repairer has claimed the next fence', async () => {
    fences.add('op:2');
    const write = jest.fn(() => Promise.resolve('written'));
    await expect(ledger.write(lease, write)).rejects.toMatchObject(INTERRUPTED);
    expect(write).not.toHaveBeenCalled();
  });

  it('takes a write back when it completed after a pause during which the operation was claimed', async () => {
    const undo = jest.fn(() => Promise.resolve());
    const write = jest.fn(() => {
      // The process stops after its check; a repairer claims meanwhile.
      now += LEASE_MS;
      fences.add('op:2');
      return Promise.resolve('late');
    });
    await expect(ledger.write(lease, write, undo)).rejects.toMatchObject(INTERRUPTED);
    expect(undo).toHaveBeenCalledWith('late');
  });

  it('answers a write refused after such a pause with the lost fence, not the refusal', async () => {
    const write = jest.fn(() => {
      now += LEASE_MS;
      fences.add('op:2');
      return Promise.reject(new Error('E11000 duplicate key'));
    });
    await expect(ledger.write(lease, write)).rejects.toMatchObject(INTERRUPTED);
  });

  it('passes on the refusal of a prompt or still-fenced write', async () => {
    const refusal = new Error('E11000 duplicate key');
    await expect(ledger.write(lease, () => Promise.reject(refusal))).rejects.toBe(refusal);
    const slow = () => {
      now += LEASE_MS;
      return Promise.reject(refusal);
    };
    await expect(ledger.write(lease, slow)).rejects.toBe(refusal);
  });

  it('keeps a slow write that still holds the fence', async () => {
    const undo = jest.fn(() => Promise.resolve());
    const write = () => {
      now += LEASE_MS;
      return Promise.resolve('slow');
    };
    await expect(ledger.write(lease, write, undo)).resolves.toBe('slow');
    expect(undo).not.toHaveBeenCalled();
  });

  it('does not check again after a prompt write', async () => {
    const write = () => {
      fences.add('op:2'); // claimed right after the write landed: the write was in time
      return Promise.resolve('prompt');
    };
    await expect(ledger.write(lease, write)).resolves.toBe('prompt');
  });

  it('refuses a drop once half the lease has passed since the last renewal', async () => {
    expect(() => ledger.assertFresh(lease)).not.toThrow();
    now += LEASE_MS / 2;
    expect(() => ledger.assertFresh(lease)).toThrow(DomainError);
    await ledger.renew(lease);
    expect(() => ledger.assertFresh(lease)).not.toThrow();
  });

  it('gives each claim a new fence and exactly one claimant the same fence', async () => {
    const [a, b] = await Promise.all([
      ledger.claim(lease.organizationId, 'op', 'rename'),
      ledger.claim(lease.organizationId, 'op', 'rename'),
    ]);
    expect([a?.fence, b?.fence].filter(Boolean)).toEqual([2]);
    await expect(ledger.assertCurrent(lease)).rejects.toMatchObject(INTERRUPTED);
  });
});
