import { setTimeout as sleep } from 'node:timers/promises';
import { launchMongo, type LaunchedMongo } from '../tools/database/mongo-launcher';
import { DatabaseAvailability } from '../src/database/database-availability.service';
import { bearer, createOrg, newOrgInput, PASSWORD, type OrgFixture } from './utils/fixtures';
import { createTestApp, type TestApp } from './utils/test-app';

const PROBLEM = /^application\/problem\+json/;

/** Runs a request and returns its status and how long it took. */
async function timed(
  send: () => PromiseLike<{
    status: number;
    headers: Record<string, string>;
    body: { code?: string };
  }>,
) {
  const started = Date.now();
  const res = await send();
  return { res, ms: Date.now() - started };
}

/**
 * The real database process is stopped and started again under a running
 * service. A server of its own, so the shared test database is never touched.
 */
describe('Database outage (e2e)', () => {
  let db: LaunchedMongo;
  let t: TestApp;
  let org: OrgFixture;

  beforeAll(async () => {
    db = await launchMongo({ kinds: ['ferretdb'], log: () => undefined });
    t = await createTestApp({ env: { MONGODB_URI: db.uri } });
    org = await createOrg(t, 'Outage');
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await db?.stop();
  });

  /** The requests a client would make; each must fail fast with 503 problem+json while the database is down. */
  const traffic = () => [
    () => t.http().post('/admin/login').send({ email: org.email, password: PASSWORD }),
    () => t.http().post('/org/create').send(newOrgInput()),
    () => t.http().get('/org/get').query({ organization_name: org.name }),
    () => t.http().get('/org/get').query({ organization_name: org.name }).set(bearer(org.token)),
    () =>
      t
        .http()
        .put('/org/update')
        .set(bearer(org.token))
        .send({ new_organization_name: `${org.name} X` }),
  ];

  const expectUnavailable = (res: {
    status: number;
    headers: Record<string, string>;
    body: { code?: string };
  }) => {
    expect(res.status).toBe(503);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.body.code).toBe('SERVICE_UNAVAILABLE');
  };

  it('answers 503 fast while the database is down, and recovers without a restart once it is back', async () => {
    await t.http().get('/health/ready').expect(200);
    await db.stopProcess();

    // At once: the driver has not noticed yet, so requests fail on refused connections.
    const ready = await timed(() => t.http().get('/health/ready'));
    expectUnavailable(ready.res);
    expect(ready.ms).toBeLessThan(2000);
    for (const send of traffic()) {
      const { res, ms } = await timed(send);
      expectUnavailable(res);
      expect(ms).toBeLessThan(2000);
    }
    await t.http().get('/health/live').expect(200);

    // Once the driver's monitor has marked the server unknown, an operation would
    // wait out the whole server-selection timeout; the service answers at once instead.
    const availability = t.app.get(DatabaseAvailability);
    const deadline = Date.now() + 20_000;
    while (availability.isReachable && Date.now() < deadline) {
      await t.http().get('/health/ready');
      await sleep(250);
    }
    expect(availability.isReachable).toBe(false);

    const readyLater = await timed(() => t.http().get('/health/ready'));
    expectUnavailable(readyLater.res);
    expect(readyLater.ms).toBeLessThan(2000);
    // The banner needs no database, but the rate limiter's first count for a
    // client does: while the database is unreachable it is refused at once too.
    const burst = await Promise.all(
      Array.from({ length: 4 }).flatMap(() =>
        [...traffic(), () => t.http().get('/')].map((send) => timed(send)),
      ),
    );
    for (const { res, ms } of burst) {
      expectUnavailable(res);
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      // Server selection would take 5 s; a loaded CI box still answers in far under 1.
      expect(ms).toBeLessThan(1000);
    }

    // Back: readiness and every kind of request recover on their own.
    await db.startProcess();
    const back = Date.now();
    let status = 0;
    while (Date.now() - back < 15_000) {
      status = (await t.http().get('/health/ready')).status;
      if (status === 200) break;
      await sleep(100);
    }
    expect(status).toBe(200);
    expect(Date.now() - back).toBeLessThan(10_000);
    expect(availability.isReachable).toBe(true);

    await t.http().get('/').expect(200);
    const login = await t
      .http()
      .post('/admin/login')
      .send({ email: org.email, password: PASSWORD })
      .expect(200);
    await t
      .http()
      .get('/org/get')
      .query({ organization_name: org.name })
      .set(bearer(login.body.access_token))
      .expect(200);
    await t.http().post('/org/create').send(newOrgInput()).expect(201);
    // The organization and its data survived the outage.
    const view = await t
      .http()
      .get('/org/get')
      .query({ organization_name: org.name })
      .set(bearer(org.token))
      .expect(200);
    expect(view.body.id).toBe(org.id);
  }, 90_000);
});
