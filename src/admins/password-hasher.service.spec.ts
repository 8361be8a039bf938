import type { Model } from 'mongoose';
import type { AuthConfig } from '../config/configuration';
import { bcryptCost, PasswordHasher } from './password-hasher.service';
import type { Admin } from './schemas/admin.schema';

/**
 * bcrypt replaced by a ledger: each run records its work (2^cost, which is
 * what bcrypt's time is proportional to), so "same timing" becomes "same
 * work", exactly and on any machine.
 */
const ledger = { work: 0, passwords: new Map<string, string>() };
let serial = 0;
const fakeHash = (password: string, cost: number) => {
  const body = String(++serial).padStart(53, '.');
  const hash = `$2b$${String(cost).padStart(2, '0')}$${body}`;
  ledger.passwords.set(hash, password);
  return hash;
};
jest.mock('bcrypt', () => ({
  hash: (password: string, cost: number) => {
    ledger.work += 2 ** cost;
    return Promise.resolve(fakeHash(password, cost));
  },
  compare: (password: string, hash: string) => {
    ledger.work += 2 ** (bcryptCost(hash) ?? 0);
    // bcrypt's truncation, which the hasher must not be fooled by.
    const stored = ledger.passwords.get(hash);
    const cut = (value: string) => Buffer.from(value).subarray(0, 72).toString();
    return Promise.resolve(stored !== undefined && cut(stored) === cut(password));
  },
}));

/** The admins collection as the hasher queries it: the highest hash of a prefix range. */
function adminsHolding(hashes: string[]): Model<Admin> {
  return {
    findOne: (filter: { password_hash: { $gt: string; $lt: string } }) => ({
      sort: () => ({
        lean: () => ({
          exec: () => {
            const { $gt, $lt } = filter.password_hash;
            const inRange = hashes.filter((h) => h > $gt && h < $lt).sort();
            const top = inRange.at(-1);
            return Promise.resolve(top === undefined ? null : { password_hash: top });
          },
        }),
      }),
    }),
  } as unknown as Model<Admin>;
}

async function hasher(bcryptCostSetting: number, stored: string[] = []): Promise<PasswordHasher> {
  const instance = new PasswordHasher(
    { bcryptCost: bcryptCostSetting } as AuthConfig,
    adminsHolding(stored),
  );
  await instance.onModuleInit();
  instance.onApplicationShutdown();
  return instance;
}

/** Work spent by one call. */
async function workOf<T>(call: () => Promise<T>): Promise<{ result: T; work: number }> {
  const before = ledger.work;
  const result = await call();
  return { result, work: ledger.work - before };
}

describe('PasswordHasher', () => {
  const PASSWORD = 'correct horse battery staple';

  it('reads the cost of bcrypt hashes only', () => {
    expect(bcryptCost(`$2b$12$${'a'.repeat(53)}`)).toBe(12);
    expect(bcryptCost(`$2y$04$${'a'.repeat(53)}`)).toBe(4);
    expect(bcryptCost('!disabled')).toBeUndefined();
    expect(bcryptCost(`$2b$12$${'a'.repeat(52)}`)).toBeUndefined();
  });

  it('spends the same work on an unknown email as on a hash of the current cost', async () => {
    const h = await hasher(12);
    const stored = fakeHash(PASSWORD, 12);
    const unknown = await workOf(() => h.verify(PASSWORD, undefined));
    const wrong = await workOf(() => h.verify('wrong password', stored));
    const right = await workOf(() => h.verify(PASSWORD, stored));
    expect(unknown).toEqual({ result: false, work: 2 ** 12 });
    expect(wrong).toEqual({ result: false, work: 2 ** 12 });
    expect(right).toEqual({ result: true, work: 2 ** 12 });
  });

  it('pads an older, cheaper hash up to the current cost after BCRYPT_COST was raised', async () => {
    const old = fakeHash(PASSWORD, 10);
    const h = await hasher(12, [old]);
    const unknown = await workOf(() => h.verify(PASSWORD, undefined));
    const wrong = await workOf(() => h.verify('wrong password', old));
    const right = await workOf(() => h.verify(PASSWORD, old));
    expect(unknown.work).toBe(2 ** 12);
    expect(wrong).toEqual({ result: false, work: 2 ** 12 });
    expect(right).toEqual({ result: true, work: 2 ** 12 });
    expect(h.needsRehash(old)).toBe(true);
    expect(h.needsRehash(fakeHash(PASSWORD, 12))).toBe(false);
  });

  it('brings every check up to the highest stored cost after BCRYPT_COST was lowered', async () => {
    const expensive = fakeHash(PASSWORD, 14);
    const h = await hasher(12, [fakeHash(PASSWORD, 12), expensive]);
    expect(h.currentWorkCost).toBe(14);
    expect((await workOf(() => h.verify(PASSWORD, undefined))).work).toBe(2 ** 14);
    expect((await workOf(() => h.verify('wrong', fakeHash(PASSWORD, 12)))).work).toBe(2 ** 14);
    expect((await workOf(() => h.verify('wrong', expensive))).work).toBe(2 ** 14);
    // A newer hash is cheaper again: the work cost falls once no expensive hash is left.
    expect(h.needsRehash(expensive)).toBe(true);
  });

  it('never matches a password over 72 bytes, at the same work as a wrong one', async () => {
    const h = await hasher(12);
    const exactly72 = 'p'.repeat(72);
    const stored = fakeHash(exactly72, 12);
    expect(await h.verify(exactly72, stored)).toBe(true);
    const longer = await workOf(() => h.verify(`${exactly72}anything`, stored));
    expect(longer).toEqual({ result: false, work: 2 ** 12 });
    // Multi-byte characters count as bytes: 24 × "€" is 72 bytes, one more is 75.
    const euros = '€'.repeat(24);
    expect(await h.verify(`${euros}€`, fakeHash(euros, 12))).toBe(false);
  });

  it('treats a value that is not a bcrypt hash (a disabled account) as no account', async () => {
    const h = await hasher(12);
    expect(await workOf(() => h.verify(PASSWORD, '!disabled'))).toEqual({
      result: false,
      work: 2 ** 12,
    });
  });
});
