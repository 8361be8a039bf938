import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { validateEnvironment } from '../src/config/env.validation';
import { MongoThrottlerStorage } from '../src/rate-limit/mongo-throttler.storage';
import { newOrgInput, PASSWORD } from './utils/fixtures';
import { createTestApp, uniqueMasterDb, uniqueSuffix, type TestApp } from './utils/test-app';

const PROBLEM = /^application\/problem\+json/;

/** Every test speaks from its own client address (TRUST_PROXY trusts loopback), so counters never collide. */
let lastOctet = 0;
const newAddress = () => `203.0.113.${++lastOctet}`;

const TIGHT_LIMITS = {
  TRUST_PROXY: '127.0.0.1',
  RATE_LIMIT_GLOBAL: '40/1m',
  RATE_LIMIT_LOGIN: '5/1m',
  RATE_LIMIT_CREATE: '3/1m',
  LOGIN_LOCKOUT: '10/15m',
};

describe('Abuse resistance (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ env: TIGHT_LIMITS });
  });
  afterAll(async () => {
    await t.close();
  });

  const get = (path: string, address: string) => t.http().get(path).set('X-Forwarded-For', address);
  const login = (address: string, email: string, password: string) =>
    t.http().post('/admin/login').set('X-Forwarded-For', address).send({ email, password });

  async function createOwner(): Promise<{ email: string; name: string }> {
    const input = newOrgInput('Sec');
    await t.http().post('/org/create').set('X-Forwarded-For', newAddress()).send(input).expect(201);
    return { email: input.email, name: input.organization_name };
  }

  describe('per-address limits', () => {
    it('answers 429 problem+json with Retry-After once the global limit is spent, and counts down before', async () => {
      const address = newAddress();
      for (let i = 1; i <= 40; i++) {
        const res = await get('/', address).expect(200);
        expect(res.headers['x-ratelimit-limit']).toBe('40');
        expect(res.headers['x-ratelimit-remaining']).toBe(String(40 - i));
        expect(Number(res.headers['x-ratelimit-reset'])).toBeGreaterThan(0);
      }
      const refused = await get('/', address).expect(429);
      expect(refused.headers['content-type']).toMatch(PROBLEM);
      expect(refused.body).toMatchObject({ status: 429, code: 'TOO_MANY_REQUESTS' });
      const retryAfter = Number(refused.headers['retry-after']);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      // Other endpoints share the address's budget; other addresses have their own.
      await get('/org/get?organization_name=Nobody%20Here', address).expect(429);
      await get('/', newAddress()).expect(200);
    });

    it('never limits or counts the health endpoints', async () => {
      const address = newAddress();
      for (let i = 0; i < 45; i++) {
        const res = await get('/health/live', address).expect(200);
        expect(res.headers['x-ratelimit-limit']).toBeUndefined();
      }
      await get('/health/ready', address).expect(200);
      const banner = await get('/', address).expect(200);
      expect(banner.headers['x-ratelimit-remaining']).toBe('39');
    });

    it('limits login attempts per address, whatever the accounts tried', async () => {
      const address = newAddress();
      for (let i = 1; i <= 5; i++) {
        const res = await login(
          address,
          `nobody-${uniqueSuffix()}@example.test`,
          'wrong password',
        ).expect(401);
        expect(res.headers['x-ratelimit-limit-login']).toBe('5');
        expect(res.headers['x-ratelimit-remaining-login']).toBe(String(5 - i));
      }
      const refused = await login(address, `nobody-${uniqueSuffix()}@example.test`, 'x').expect(
        429,
      );
      expect(refused.body.code).toBe('TOO_MANY_REQUESTS');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      await login(newAddress(), `nobody-${uniqueSuffix()}@example.test`, 'x').expect(401);
    });

    it('limits organization creation per address', async () => {
      const address = newAddress();
      for (let i = 0; i < 3; i++) {
        await t
          .http()
          .post('/org/create')
          .set('X-Forwarded-For', address)
          .send(newOrgInput())
          .expect(201);
      }
      const refused = await t
        .http()
        .post('/org/create')
        .set('X-Forwarded-For', address)
        .send(newOrgInput())
        .expect(429);
      expect(refused.headers['retry-after']).toBeDefined();
      // The refused request created nothing.
      const names = await t.master.db!.collection('organizations').countDocuments({});
      await t
        .http()
        .post('/org/create')
        .set('X-Forwarded-For', newAddress())
        .send(newOrgInput())
        .expect(201);
      expect(await t.master.db!.collection('organizations').countDocuments({})).toBe(names + 1);
    });

    it('throttles before authenticating, so floods of bad tokens are refused too', async () => {
      const address = newAddress();
      const statuses: number[] = [];
      for (let i = 0; i < 42; i++) {
        const res = await t
          .http()
          .put('/org/update')
          .set('X-Forwarded-For', address)
          .set('Authorization', 'Bearer not.a.token')
          .send({ new_organization_name: 'Whatever' });
        statuses.push(res.status);
      }
      expect(statuses.slice(0, 40).every((s) => s === 401)).toBe(true);
      expect(statuses.slice(40)).toEqual([429, 429]);
    });

    it('shares the global limit between instances, each adding its count every second', async () => {
      const second = await createTestApp({
        env: TIGHT_LIMITS,
        masterDbName: t.master.db!.databaseName,
      });
      try {
        const address = newAddress();
        for (let i = 0; i < 25; i++) await get('/', address).expect(200);
        // What the first instance's timer does every GLOBAL_SYNC_INTERVAL_MS, done now.
        await t.app.get(MongoThrottlerStorage).flushGlobal();
        const statuses: number[] = [];
        for (let i = 0; i < 20; i++) {
          statuses.push((await second.http().get('/').set('X-Forwarded-For', address)).status);
        }
        expect(statuses.filter((s) => s === 200)).toHaveLength(15);
        expect(statuses.slice(15).every((s) => s === 429)).toBe(true);
      } finally {
        await second.close();
      }
    });

    it('keeps one count for several instances on the same database', async () => {
      const second = await createTestApp({
        env: TIGHT_LIMITS,
        masterDbName: t.master.db!.databaseName,
      });
      try {
        const address = newAddress();
        const tryLogin = (app: TestApp) =>
          app
            .http()
            .post('/admin/login')
            .set('X-Forwarded-For', address)
            .send({ email: `nobody-${uniqueSuffix()}@example.test`, password: 'wrong password' });
        for (const app of [t, second, t, second, t]) await tryLogin(app).expect(401);
        await tryLogin(second).expect(429);
        await tryLogin(t).expect(429);
      } finally {
        await second.close();
      }
    });
  });

  describe('per-account login lock-out', () => {
    // Each attempt from a new address: the distributed guessing the per-address limit cannot stop.
    const attempt = (email: string, password: string) => login(newAddress(), email, password);

    it('locks an account after 10 failed attempts: 429 with Retry-After, even for the right password', async () => {
      const { email } = await createOwner();
      for (let i = 0; i < 10; i++) {
        const res = await attempt(email, `wrong password ${i}`).expect(401);
        expect(res.body.code).toBe('INVALID_CREDENTIALS');
      }
      const locked = await attempt(email, 'wrong again').expect(429);
      expect(locked.headers['content-type']).toMatch(PROBLEM);
      expect(locked.body.code).toBe('TOO_MANY_REQUESTS');
      const retryAfter = Number(locked.headers['retry-after']);
      expect(retryAfter).toBeGreaterThan(800);
      expect(retryAfter).toBeLessThanOrEqual(900);

      const right = await attempt(email, PASSWORD).expect(429);
      expect(right.body.access_token).toBeUndefined();
      // The email is case-insensitive, so is the lock.
      await attempt(email.toUpperCase(), PASSWORD).expect(429);
    });

    it('does not extend the lock-out with refused attempts', async () => {
      const { email } = await createOwner();
      for (let i = 0; i < 10; i++) await attempt(email, 'wrong password').expect(401);
      for (let i = 0; i < 5; i++) await attempt(email, 'x').expect(429);
      // Ten recorded attempts: the refused ones left no trace that could keep the lock going.
      const account = createHash('sha256').update(email).digest('hex');
      expect(await t.master.db!.collection('login_attempts').countDocuments({ account })).toBe(10);
    });

    it('locks unknown emails exactly like real ones, revealing nothing', async () => {
      const { email } = await createOwner();
      const ghost = `ghost-${uniqueSuffix()}@example.test`;
      for (let i = 0; i < 10; i++) {
        await attempt(email, 'wrong password').expect(401);
        await attempt(ghost, 'wrong password').expect(401);
      }
      const real = await attempt(email, 'wrong password').expect(429);
      const fake = await attempt(ghost, 'wrong password').expect(429);
      // Same answer but for the seconds to wait, which depend on when each began.
      const strip = (body: Record<string, unknown>) => ({
        ...body,
        request_id: undefined,
        detail: String(body.detail).replace(/\d+/g, 'N'),
      });
      expect(strip(real.body)).toEqual(strip(fake.body));
      const wait = (res: { headers: Record<string, string> }) => Number(res.headers['retry-after']);
      expect(Math.abs(wait(real) - wait(fake))).toBeLessThanOrEqual(2);
    });

    it('leaves other accounts alone', async () => {
      const [victim, bystander] = await Promise.all([createOwner(), createOwner()]);
      for (let i = 0; i < 10; i++) await attempt(victim.email, 'wrong password').expect(401);
      await attempt(victim.email, PASSWORD).expect(429);
      await attempt(bystander.email, PASSWORD).expect(200);
    });

    it('clears the count on a successful login', async () => {
      const { email } = await createOwner();
      for (let i = 0; i < 9; i++) await attempt(email, 'wrong password').expect(401);
      await attempt(email, PASSWORD).expect(200);
      for (let i = 0; i < 10; i++) await attempt(email, 'wrong password').expect(401);
      await attempt(email, 'wrong password').expect(429);
    });

    it('checks at most 10 passwords, whatever the parallelism', async () => {
      const { email } = await createOwner();
      const results = await Promise.all(
        Array.from({ length: 30 }, () => attempt(email, 'wrong password')),
      );
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(10);
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(20);
      expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
      // Parallel attempts may be refused more eagerly than needed, never less:
      // over the whole window, exactly 10 passwords get checked.
      let checked = statuses.filter((s) => s === 401).length;
      for (let i = 0; i < 11; i++) {
        const res = await attempt(email, 'wrong password');
        if (res.status === 429) break;
        expect(res.status).toBe(401);
        checked++;
      }
      expect(checked).toBe(10);
      await attempt(email, PASSWORD).expect(429);
    });
  });

  describe('a lock-out window that ends', () => {
    let short: TestApp;
    beforeAll(async () => {
      short = await createTestApp({ env: { ...TIGHT_LIMITS, LOGIN_LOCKOUT: '3/6s' } });
    });
    afterAll(async () => {
      await short.close();
    });

    it('lets the right password in again once the window has passed', async () => {
      const input = newOrgInput('Window');
      await short.http().post('/org/create').send(input).expect(201);
      const attempt = (password: string) =>
        short
          .http()
          .post('/admin/login')
          .set('X-Forwarded-For', newAddress())
          .send({ email: input.email, password });
      for (let i = 0; i < 3; i++) await attempt('wrong password').expect(401);
      const locked = await attempt(PASSWORD).expect(429);
      const retryAfter = Number(locked.headers['retry-after']);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(6);
      await sleep(retryAfter * 1000 + 300);
      await attempt(PASSWORD).expect(200);
    });
  });

  describe('limits are configuration', () => {
    it('switches a limit off with "off"', async () => {
      const open = await createTestApp({ env: { ...TIGHT_LIMITS, RATE_LIMIT_GLOBAL: 'off' } });
      try {
        const res = await open.http().get('/').expect(200);
        expect(res.headers['x-ratelimit-limit']).toBeUndefined();
      } finally {
        await open.close();
      }
    });

    it.each(['RATE_LIMIT_GLOBAL', 'RATE_LIMIT_LOGIN', 'RATE_LIMIT_CREATE', 'LOGIN_LOCKOUT'])(
      'refuses to start with a malformed %s, naming it',
      (name) => {
        expect(() => validateEnvironment({ NODE_ENV: 'test', [name]: '10 per minute' })).toThrow(
          name,
        );
      },
    );
  });
});

describe('Security headers and CORS (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { CORS_ORIGINS: 'https://app.example.test' } });
  });
  afterAll(async () => {
    await t.close();
  });

  const expectHardened = (headers: Record<string, string>) => {
    expect(headers['content-security-policy']).toBe(
      "default-src 'none';base-uri 'none';form-action 'none';frame-ancestors 'none'",
    );
    expect(headers['x-content-type-options']).toBe('nosniff');
    expect(headers['x-frame-options']).toBe('DENY');
    expect(headers['referrer-policy']).toBe('no-referrer');
    // Over plain HTTP: HSTS only for requests that came over TLS (transport-security e2e).
    expect(headers['strict-transport-security']).toBeUndefined();
    expect(headers['cross-origin-opener-policy']).toBe('same-origin');
    expect(headers['x-powered-by']).toBeUndefined();
  };

  it('sends the security headers on success, on errors and on unknown routes', async () => {
    expectHardened((await t.http().get('/').expect(200)).headers);
    expectHardened((await t.http().post('/org/create').send({}).expect(400)).headers);
    expectHardened((await t.http().get('/no/such/route').expect(404)).headers);
  });

  it('gives the docs pages a policy that lets them load their own scripts and styles only', async () => {
    for (const path of ['/docs', '/redoc']) {
      const res = await t.http().get(path).redirects(1).expect(200);
      const csp = res.headers['content-security-policy'];
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('unsafe-eval');
      expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
    }
  });

  it('allows an origin from CORS_ORIGINS and exposes the request id and rate-limit headers', async () => {
    const res = await t.http().get('/').set('Origin', 'https://app.example.test').expect(200);
    expect(res.headers['access-control-allow-origin']).toBe('https://app.example.test');
    const exposed = res.headers['access-control-expose-headers'].toLowerCase();
    for (const header of ['x-request-id', 'retry-after', 'x-ratelimit-remaining']) {
      expect(exposed).toContain(header);
    }
    const preflight = await t
      .http()
      .options('/org/update')
      .set('Origin', 'https://app.example.test')
      .set('Access-Control-Request-Method', 'PUT')
      .set('Access-Control-Request-Headers', 'authorization,content-type');
    expect(preflight.status).toBeLessThan(300);
    expect(preflight.headers['access-control-allow-origin']).toBe('https://app.example.test');
  });

  it('gives no CORS grant to an origin outside the list', async () => {
    const res = await t.http().get('/').set('Origin', 'https://evil.example.test').expect(200);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    const preflight = await t
      .http()
      .options('/org/update')
      .set('Origin', 'https://evil.example.test')
      .set('Access-Control-Request-Method', 'PUT');
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('has CORS off when CORS_ORIGINS is empty (the default)', async () => {
    const closed = await createTestApp({
      masterDbName: uniqueMasterDb(),
      env: { CORS_ORIGINS: '' },
    });
    try {
      const res = await closed
        .http()
        .get('/')
        .set('Origin', 'https://app.example.test')
        .expect(200);
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await closed.close();
    }
  });
});

describe('Swagger UI and stored tokens (e2e)', () => {
  /** The options Swagger UI starts with, as the browser receives them. */
  async function swaggerUiOptions(t: TestApp): Promise<string> {
    const res = await t.http().get('/docs/swagger-ui-init.js').expect(200);
    return res.text;
  }

  it('does not keep bearer tokens in localStorage in production (persistAuthorization off)', async () => {
    const production = await createTestApp({
      env: {
        NODE_ENV: 'production',
        // Production refuses the tests' placeholder-looking secret and a test-only bcrypt cost.
        JWT_SECRET: randomBytes(32).toString('hex'),
        BCRYPT_COST: '10',
      },
    });
    try {
      expect(await swaggerUiOptions(production)).toMatch(/"persistAuthorization":\s*false/);
    } finally {
      await production.close();
    }
  });

  it('keeps them for convenience outside production', async () => {
    const development = await createTestApp({
      env: { NODE_ENV: 'development', BCRYPT_COST: '10' },
    });
    try {
      expect(await swaggerUiOptions(development)).toMatch(/"persistAuthorization":\s*true/);
    } finally {
      await development.close();
    }
  });
});
