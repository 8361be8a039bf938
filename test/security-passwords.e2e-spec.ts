import { Types } from 'mongoose';
import { bcryptCost, PasswordHasher } from '../src/admins/password-hasher.service';
import { apiClient, expectProblem } from './utils/api';
import { createOrg, newOrgInput, type OrgFixture } from './utils/fixtures';
import { createTestApp, uniqueMasterDb, uniqueSuffix, type TestApp } from './utils/test-app';

/** Every login from its own address, so only the per-account lock-out is in play. */
let lastOctet = 0;
const newAddress = () => `198.51.100.${++lastOctet % 250}`;

/** A problem body without the parts that differ per request. */
const comparable = (body: Record<string, unknown>) => ({ ...body, request_id: undefined });

async function storedHash(t: TestApp, email: string): Promise<string> {
  const admin = await t.master.db!.collection('admins').findOne({ email });
  return admin!.password_hash as string;
}

describe('Password checks (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ env: { TRUST_PROXY: '127.0.0.1', LOGIN_LOCKOUT: '10/15m' } });
  });
  afterAll(async () => {
    await t.close();
  });

  const login = (email: string, password: string) =>
    apiClient(t).login(email, password).set('X-Forwarded-For', newAddress());

  const changePassword = (org: OrgFixture, currentPassword: string) =>
    org.owner
      .update({ password: `a new passphrase ${uniqueSuffix()}`, current_password: currentPassword })
      .set('X-Forwarded-For', newAddress());

  describe('current_password goes through the login lock-out (finding 2)', () => {
    it('locks current_password after 10 wrong guesses: 429 with Retry-After, even for the right password', async () => {
      const org = await createOrg(t, 'Guess');
      for (let i = 0; i < 10; i++) {
        expectProblem(await changePassword(org, `wrong guess ${i}`), 403, 'WRONG_PASSWORD');
      }
      const locked = await changePassword(org, org.password);
      expectProblem(locked, 429, 'TOO_MANY_REQUESTS');
      expect(Number(locked.headers['retry-after'])).toBeGreaterThan(800);
      // Nothing changed: the credentials version (and so every token) is as it was.
      const admin = await t.master
        .db!.collection('admins')
        .findOne({ _id: new Types.ObjectId(org.adminId) });
      expect(admin!.credentials_version).toBe(0);
      await org.owner.getOrg(org.name).expect(200);
    });

    it('counts current_password and login attempts together, per account', async () => {
      const org = await createOrg(t, 'Shared');
      for (let i = 0; i < 5; i++) await changePassword(org, 'wrong guess').expect(403);
      for (let i = 0; i < 5; i++) await login(org.email, 'wrong guess').expect(401);
      await login(org.email, org.password).expect(429);
      await changePassword(org, org.password).expect(429);
    });

    it('clears the count when current_password is right, as a login does', async () => {
      const org = await createOrg(t, 'Clears');
      for (let i = 0; i < 9; i++) await changePassword(org, 'wrong guess').expect(403);
      const newPassword = `a new passphrase ${uniqueSuffix()}`;
      await org.owner.update({ password: newPassword, current_password: org.password }).expect(200);
      // Ten attempts recorded so far; the right one cleared them, so ten more wrong ones are checked.
      for (let i = 0; i < 10; i++) await login(org.email, 'wrong guess').expect(401);
      await login(org.email, newPassword).expect(429);
    });

    it('audits every wrong current_password, without the password', async () => {
      const org = await createOrg(t, 'Audited');
      for (let i = 0; i < 3; i++) await changePassword(org, `guess number ${i}`).expect(403);
      const events = await t.master
        .db!.collection('audit_events')
        .find({ action: 'admin.password_check_failed', actor_email: org.email })
        .toArray();
      expect(events).toHaveLength(3);
      expect(events[0]).toMatchObject({
        organization_id: new Types.ObjectId(org.id),
        actor_id: new Types.ObjectId(org.adminId),
        ip: expect.stringMatching(/^198\.51\.100\./),
      });
      expect(JSON.stringify(events)).not.toContain('guess number');
    });
  });

  describe("bcrypt's 72-byte limit at login (finding 3)", () => {
    it('never lets a password over 72 bytes match, and answers it like a wrong password', async () => {
      const input = { ...newOrgInput('Long'), password: `${'p'.repeat(60)}${uniqueSuffix()}` };
      expect(Buffer.byteLength(input.password)).toBe(68);
      const password72 = `${input.password}1234`;
      await apiClient(t)
        .createOrg({ ...input, password: password72 })
        .expect(201);
      await login(input.email, password72).expect(200);
      const longer = await login(input.email, `${password72}anything`).expect(401);
      const wrong = await login(input.email, `${input.password}4321`).expect(401);
      expect(comparable(longer.body)).toEqual(comparable(wrong.body));
      // Multi-byte: 24 × "€" is 72 bytes; the same plus one more character is not the same password.
      const euros = { ...newOrgInput('Euro'), password: '€'.repeat(24) };
      await apiClient(t).createOrg(euros).expect(201);
      await login(euros.email, euros.password).expect(200);
      await login(euros.email, `${euros.password}€`).expect(401);
    });
  });
});

describe('BCRYPT_COST changes (e2e, finding 5)', () => {
  const masterDbName = uniqueMasterDb();
  const open: TestApp[] = [];
  const start = async (cost: number) => {
    const app = await createTestApp({ masterDbName, env: { BCRYPT_COST: String(cost) } });
    open.push(app);
    return app;
  };
  afterAll(async () => {
    for (const app of open) await app.close();
  });

  it('upgrades a stored hash to the current cost at the next successful login, keeping tokens valid', async () => {
    const before = await start(5);
    const org = await createOrg(before, 'Upgrade');
    expect(bcryptCost(await storedHash(before, org.email))).toBe(5);
    await before.close();
    open.splice(open.indexOf(before), 1);

    const after = await start(7);
    const api = apiClient(after);
    await api.login('nobody@example.test', 'x');
    expect(bcryptCost(await storedHash(after, org.email))).toBe(5);
    await api.login(org.email, 'wrong password').expect(401);
    expect(bcryptCost(await storedHash(after, org.email))).toBe(5);
    await api.login(org.email, org.password).expect(200);
    expect(bcryptCost(await storedHash(after, org.email))).toBe(7);
    // Not a credentials change: the token issued before still works, and so does the password.
    await api.as(org.token).getOrg(org.name).expect(200);
    await api.login(org.email, org.password).expect(200);
  });

  it('answers an unknown email as slowly as an account hashed at the old cost', async () => {
    const cheap = await start(4);
    const org = await createOrg(cheap, 'Timing');
    await cheap.close();
    open.splice(open.indexOf(cheap), 1);

    // About 100 ms per bcrypt run here, against well under 1 ms at cost 4.
    const raised = await start(11);
    const time = async (email: string) => {
      const started = performance.now();
      await apiClient(raised).login(email, 'wrong password').expect(401);
      return performance.now() - started;
    };
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 7; i++) {
      known.push(await time(org.email));
      unknown.push(await time(`nobody-${uniqueSuffix()}@example.test`));
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[3];
    const ratio = median(known) / median(unknown);
    // Equal work; a loaded machine adds noise, not the factor of 100 that cost 4 against 11 was.
    expect(ratio).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(2);
  });

  it('keeps every check at the highest stored cost after BCRYPT_COST is lowered, until that hash is upgraded', async () => {
    const ownDb = uniqueMasterDb();
    const before = await createTestApp({ masterDbName: ownDb, env: { BCRYPT_COST: '6' } });
    const org = await createOrg(before, 'Lowered');
    await before.close();
    const after = await createTestApp({ masterDbName: ownDb, env: { BCRYPT_COST: '4' } });
    try {
      const hasher = after.app.get(PasswordHasher);
      expect(hasher.currentWorkCost).toBe(6);
      await apiClient(after).login(org.email, org.password).expect(200);
      expect(bcryptCost(await storedHash(after, org.email))).toBe(4);
      await hasher.refreshWorkCost();
      expect(hasher.currentWorkCost).toBe(4);
    } finally {
      await after.close();
    }
  });
});
