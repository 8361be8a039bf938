import { validateEnvironment } from '../src/config/env.validation';
import { newOrgInput } from './utils/fixtures';
import { createTestApp, uniqueSuffix, type TestApp } from './utils/test-app';

/** A fresh client address per test, so windows never collide. */
let lastOctet = 0;
const newAddress = () => `192.0.2.${++lastOctet}`;

const LIMITS = {
  TRUST_PROXY: '127.0.0.1',
  RATE_LIMIT_LOGIN: '30/1m',
  RATE_LIMIT_CREATE: '5/1m',
  // Out of the way: these tests are about the per-address limits.
  LOGIN_LOCKOUT: 'off',
};

const tryLogin = (t: TestApp, address: string) =>
  t
    .http()
    .post('/admin/login')
    .set('X-Forwarded-For', address)
    .send({ email: `nobody-${uniqueSuffix()}@example.test`, password: 'wrong password' });

const tally = (statuses: number[]) => ({
  refused: statuses.filter((s) => s === 429).length,
  answered: statuses.filter((s) => s !== 429).length,
});

describe('Per-address limits under parallel bursts (e2e, finding 7)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: LIMITS });
  });
  afterAll(async () => {
    await t.close();
  });

  it('lets exactly 30 of 60 parallel logins from one address through a limit of 30', async () => {
    const address = newAddress();
    const results = await Promise.all(Array.from({ length: 60 }, () => tryLogin(t, address)));
    const statuses = results.map((r) => r.status);
    expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
    expect(tally(statuses)).toEqual({ answered: 30, refused: 30 });
    // The window stays spent for everyone from that address.
    await tryLogin(t, address).expect(429);
  });

  it('holds the limit when the burst is spread over two instances on one database', async () => {
    const second = await createTestApp({ env: LIMITS, masterDbName: t.master.db!.databaseName });
    try {
      const address = newAddress();
      const results = await Promise.all(
        Array.from({ length: 60 }, (_, i) => tryLogin(i % 2 ? second : t, address)),
      );
      expect(tally(results.map((r) => r.status))).toEqual({ answered: 30, refused: 30 });
    } finally {
      await second.close();
    }
  });

  it('lets exactly 5 of 20 parallel creations from one address through a limit of 5', async () => {
    const address = newAddress();
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        t.http().post('/org/create').set('X-Forwarded-For', address).send(newOrgInput('Burst')),
      ),
    );
    const statuses = results.map((r) => r.status);
    expect(tally(statuses)).toEqual({ answered: 5, refused: 15 });
    expect(statuses.filter((s) => s === 201)).toHaveLength(5);
  });

  it('counts down the remaining allowance in its headers, one hit at a time', async () => {
    const address = newAddress();
    for (let i = 1; i <= 3; i++) {
      const res = await tryLogin(t, address).expect(401);
      expect(res.headers['x-ratelimit-remaining-login']).toBe(String(30 - i));
    }
  });
});

describe('Per-address limits and IPv6 (e2e, finding 8)', () => {
  const apps: TestApp[] = [];
  afterAll(async () => {
    for (const app of apps) {
      await app.close();
    }
  });
  const start = async (env: Record<string, string> = {}) => {
    const app = await createTestApp({ env: { ...LIMITS, RATE_LIMIT_LOGIN: '5/1m', ...env } });
    apps.push(app);
    return app;
  };

  it('counts every address of one IPv6 /64 against one limit, and another /64 apart', async () => {
    const t = await start();
    for (let host = 1; host <= 5; host++) {
      await tryLogin(t, `2001:db8:77:1::${host.toString(16)}`).expect(401);
    }
    await tryLogin(t, '2001:db8:77:1:ffff:ffff:ffff:fffe').expect(429);
    await tryLogin(t, '2001:db8:77:1:abcd::').expect(429);
    await tryLogin(t, '2001:db8:77:2::1').expect(401);
    // IPv4 stays per address.
    await tryLogin(t, '192.0.2.200').expect(401);
  });

  it('groups by RATE_LIMIT_IPV6_PREFIX when it is set', async () => {
    const wide = await start({ RATE_LIMIT_IPV6_PREFIX: '48' });
    for (let subnet = 1; subnet <= 5; subnet++) {
      await tryLogin(wide, `2001:db8:88:${subnet}::1`).expect(401);
    }
    await tryLogin(wide, '2001:db8:88:ff::1').expect(429);
    await tryLogin(wide, '2001:db8:89::1').expect(401);
  });

  it.each(['8', '129', '64.5', 'wide'])('refuses RATE_LIMIT_IPV6_PREFIX=%s, naming it', (value) => {
    expect(() => validateEnvironment({ NODE_ENV: 'test', RATE_LIMIT_IPV6_PREFIX: value })).toThrow(
      'RATE_LIMIT_IPV6_PREFIX',
    );
  });
});
