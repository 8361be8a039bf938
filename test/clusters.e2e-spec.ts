import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient, ObjectId } from 'mongodb';
import { ClusterConnections } from '../src/database/cluster-connections';
import { OrphanCollector } from '../src/organizations/lifecycle/orphan-collector';
import { launchMongo, type LaunchedMongo } from '../tools/database/mongo-launcher';
import { bearer, createOrg, newOrgInput, PASSWORD, type OrgFixture } from './utils/fixtures';
import { createTestApp, type TestApp, uniqueSuffix } from './utils/test-app';

const PROBLEM = /^application\/problem\+json/;
const SUPERADMIN = { email: 'clusters-operator@example.test', password: 'operator password 1' };

const slugOf = (name: string) => name.toLowerCase().replace(/[\s-]+/g, '_');

/**
 * Two more real database servers act as tenant clusters `eu-1` and `eu-2`
 * beside the test database (`default`, which also holds the master), and
 * tenant data is checked on the server it must be on.
 */
describe('Several database clusters (e2e)', () => {
  let eu1: LaunchedMongo;
  let eu2: LaunchedMongo;
  /** Direct clients, to look at each server's databases behind the service's back. */
  const direct: Record<string, MongoClient> = {};
  let t: TestApp;
  let operator: string;

  const start = ({ masterDbName, ...env }: Record<string, string> = {}) =>
    createTestApp({
      masterDbName,
      env: {
        TENANT_CLUSTERS: JSON.stringify({ 'eu-1': eu1.uri, 'eu-2': eu2.uri }),
        SUPERADMIN_EMAIL: SUPERADMIN.email,
        SUPERADMIN_PASSWORD: SUPERADMIN.password,
        ...env,
      },
    });

  const login = async (app: TestApp, email: string, password: string) =>
    (await app.http().post('/admin/login').send({ email, password }).expect(200)).body
      .access_token as string;

  /** Creates an organization as the super admin, on `cluster`. */
  async function createOn(cluster: string, app = t): Promise<OrgFixture> {
    const input = newOrgInput('Cell');
    const created = await app
      .http()
      .post('/org/create')
      .set(bearer(operator))
      .send({ ...input, cluster })
      .expect(201);
    expect(created.body.cluster).toBe(cluster);
    return {
      name: input.organization_name,
      email: input.email,
      password: input.password,
      id: created.body.id as string,
      adminId: created.body.admin.id as string,
      token: await login(app, input.email, input.password),
    };
  }

  /** Tenant databases on each server. */
  async function databasesOn(cluster: 'default' | 'eu-1' | 'eu-2'): Promise<string[]> {
    const { databases } = await direct[cluster].db().admin().listDatabases({ nameOnly: true });
    return (databases as Array<{ name: string }>)
      .map((d) => d.name)
      .filter((name) => name.startsWith('org_'));
  }

  const addMember = (app: TestApp, org: OrgFixture, email: string) =>
    app
      .http()
      .post('/org/members')
      .set(bearer(org.token))
      .send({ email, name: 'A Member' })
      .expect(201);

  beforeAll(async () => {
    [eu1, eu2] = await Promise.all([
      launchMongo({ kinds: ['ferretdb'], persistent: false, log: () => undefined }),
      launchMongo({ kinds: ['ferretdb'], persistent: false, log: () => undefined }),
    ]);
    direct.default = new MongoClient(process.env.MONGODB_URI!);
    direct['eu-1'] = new MongoClient(eu1.uri);
    direct['eu-2'] = new MongoClient(eu2.uri);
    t = await start();
    operator = await login(t, SUPERADMIN.email, SUPERADMIN.password);
  }, 90_000);

  afterAll(async () => {
    await t?.close();
    await Promise.all(Object.values(direct).map((client) => client.close()));
    await Promise.all([eu1?.stop(), eu2?.stop()]);
  });

  describe('placement', () => {
    it('places a new organization on default under the default placement, and says so to its owner', async () => {
      const org = await createOrg(t, 'Plain');
      const view = await t
        .http()
        .get('/org/get')
        .query({ organization_name: org.name })
        .set(bearer(org.token))
        .expect(200);
      expect(view.body.cluster).toBe('default');
      const database = `org_${slugOf(org.name)}`;
      expect(await databasesOn('default')).toContain(database);
      expect(await databasesOn('eu-1')).not.toContain(database);
    });

    it('lets the super admin place an organization on a named cluster, shown in the list and the audit trail', async () => {
      const org = await createOn('eu-2');
      const database = `org_${slugOf(org.name)}`;
      expect(await databasesOn('eu-2')).toContain(database);
      expect(await databasesOn('default')).not.toContain(database);

      const list = await t
        .http()
        .get('/org/list')
        .query({ q: org.name })
        .set(bearer(operator))
        .expect(200);
      expect(list.body.items).toEqual([
        expect.objectContaining({ organization_name: org.name, cluster: 'eu-2' }),
      ]);
      const trail = await t
        .http()
        .get('/org/audit')
        .query({ limit: 100 })
        .set(bearer(operator))
        .expect(200);
      const created = (
        trail.body.items as Array<{ action: string; details: Record<string, unknown> }>
      ).find(
        (e) => e.action === 'organization.created' && e.details.organization_name === org.name,
      );
      expect(created?.details.cluster).toBe('eu-2');
    });

    it('refuses a cluster named by anyone but the super admin with 403, creating nothing', async () => {
      const owner = await createOrg(t, 'Chooser');
      for (const auth of [{}, bearer(owner.token)]) {
        const input = newOrgInput('Refused');
        const res = await t
          .http()
          .post('/org/create')
          .set(auth)
          .send({ ...input, cluster: 'eu-1' })
          .expect(403);
        expect(res.headers['content-type']).toMatch(PROBLEM);
        expect(res.body.code).toBe('FORBIDDEN');
        await t
          .http()
          .get('/org/get')
          .query({ organization_name: input.organization_name })
          .expect(404);
      }
    });

    it('refuses an unknown cluster with 400 naming the field', async () => {
      const input = newOrgInput('Nowhere');
      const res = await t
        .http()
        .post('/org/create')
        .set(bearer(operator))
        .send({ ...input, cluster: 'eu-9' })
        .expect(400);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.body.code).toBe('VALIDATION_FAILED');
      expect(res.body.errors).toEqual([expect.objectContaining({ field: 'cluster' })]);
      await t
        .http()
        .get('/org/get')
        .query({ organization_name: input.organization_name })
        .expect(404);
    });

    it('spreads new organizations to the cluster with the fewest organizations', async () => {
      // The same master database, placing by spread.
      const spread = await start({ masterDbName: t.master.name, TENANT_PLACEMENT: 'spread' });
      const records = t.master.collection<{ cluster?: string | null }>('organizations');
      const order = ['default', 'eu-1', 'eu-2'];
      try {
        const placed: string[] = [];
        for (let i = 0; i < 4; i += 1) {
          const counts = new Map(order.map((name) => [name, 0]));
          for (const org of await records.find({}, { projection: { cluster: 1 } }).toArray()) {
            const cluster = org.cluster ?? 'default';
            counts.set(cluster, (counts.get(cluster) ?? 0) + 1);
          }
          const fewest = order.reduce((best, name) =>
            counts.get(name)! < counts.get(best)! ? name : best,
          );
          const created = await spread.http().post('/org/create').send(newOrgInput('Spread'));
          expect(created.status).toBe(201);
          expect(created.body.cluster).toBe(fewest);
          placed.push(created.body.cluster as string);
        }
        expect(new Set(placed).size).toBeGreaterThan(1);
      } finally {
        await spread.close();
      }
    });
  });

  describe('the lifecycle on a cluster of its own', () => {
    it('keeps members, a rename and a delete on the organization’s cluster', async () => {
      const org = await createOn('eu-1');
      const slug = slugOf(org.name);
      const member = `member-${uniqueSuffix()}@example.test`;
      await addMember(t, org, member);
      const stored = await direct['eu-1']
        .db(`org_${slug}`)
        .collection('members')
        .findOne({ email: member });
      expect(stored).not.toBeNull();

      const renamed = `${org.name} Renamed`;
      const update = await t
        .http()
        .put('/org/update')
        .set(bearer(org.token))
        .send({ new_organization_name: renamed })
        .expect(200);
      expect(update.body).toMatchObject({ cluster: 'eu-1', database_name: `org_${slug}_renamed` });
      expect(await databasesOn('eu-1')).toContain(`org_${slug}_renamed`);
      expect(await databasesOn('eu-1')).not.toContain(`org_${slug}`);
      expect(await databasesOn('default')).not.toContain(`org_${slug}_renamed`);
      const copied = await direct['eu-1']
        .db(`org_${slug}_renamed`)
        .collection('members')
        .findOne({ email: member });
      expect(copied).not.toBeNull();
      const members = await t.http().get('/org/members').set(bearer(org.token)).expect(200);
      expect(members.body.items).toEqual([expect.objectContaining({ email: member })]);

      await t
        .http()
        .delete('/org/delete')
        .query({ organization_name: renamed })
        .set(bearer(org.token))
        .expect(200);
      expect(await databasesOn('eu-1')).not.toContain(`org_${slug}_renamed`);
      await t.http().get('/org/get').query({ organization_name: renamed }).expect(404);
    });

    it('collects an orphaned tenant database on a second cluster, and leaves foreign data there alone', async () => {
      const suffix = uniqueSuffix();
      const empty = `org_orphan_empty_${suffix}`;
      const foreign = `org_orphan_foreign_${suffix}`;
      const used = await createOn('eu-2');
      // A late write's leftover (a collection without documents) and someone else's data.
      await direct['eu-2'].db(empty).createCollection('members');
      await direct['eu-2'].db(foreign).collection('things').insertOne({ a: 1 });
      expect(await databasesOn('eu-2')).toEqual(expect.arrayContaining([empty, foreign]));

      const collected = await t.app.get(OrphanCollector).collect();
      expect(collected.databases).toBeGreaterThanOrEqual(1);
      const left = await databasesOn('eu-2');
      expect(left).not.toContain(empty);
      expect(left).toContain(foreign);
      expect(left).toContain(`org_${slugOf(used.name)}`);
      await direct['eu-2'].db(foreign).dropDatabase();
    });
  });

  describe('a tenant cluster going down', () => {
    it('fails only its own tenants, fast and with 503, and shows it in readiness', async () => {
      const down = await createOn('eu-2');
      const up = await createOn('eu-1');
      const home = await createOrg(t, 'Home');
      await addMember(t, down, `before-${uniqueSuffix()}@example.test`);
      const ready = await t.http().get('/health/ready').expect(200);
      expect(ready.body.details.clusters.states).toEqual({
        default: 'up',
        'eu-1': 'up',
        'eu-2': 'up',
      });

      await eu2.stopProcess();
      try {
        // Until the driver's verdict, a request waits at most the tenant
        // cluster's short server selection (2 s; the master's would be 5 s,
        // the driver's default 30 s); after it, none waits at all.
        const clusters = t.app.get(ClusterConnections);
        const deadline = Date.now() + 20_000;
        do {
          const started = Date.now();
          const res = await t.http().get('/org/members').set(bearer(down.token));
          expect(res.status).toBe(503);
          expect(res.headers['content-type']).toMatch(PROBLEM);
          expect(res.body.code).toBe('SERVICE_UNAVAILABLE');
          expect(Date.now() - started).toBeLessThan(5000);
          await sleep(250);
        } while (clusters.mayBeUp('eu-2') && Date.now() < deadline);
        expect(clusters.mayBeUp('eu-2')).toBe(false);

        const started = Date.now();
        const write = await t
          .http()
          .post('/org/members')
          .set(bearer(down.token))
          .send({ email: `during-${uniqueSuffix()}@example.test`, name: 'Nobody' });
        expect(write.status).toBe(503);
        expect(write.headers['content-type']).toMatch(PROBLEM);
        const rename = await t
          .http()
          .put('/org/update')
          .set(bearer(down.token))
          .send({ new_organization_name: `${down.name} Elsewhere` });
        expect(rename.status).toBe(503);
        expect(Date.now() - started).toBeLessThan(1000);
        // Refused before anything was recorded: the organization is not left busy.
        const record = await t.master
          .collection('organizations')
          .findOne({ _id: new ObjectId(down.id) });
        expect(record?.pending).toBeNull();

        // Everyone else is served as usual.
        await t.http().get('/org/members').set(bearer(up.token)).expect(200);
        await addMember(t, up, `while-${uniqueSuffix()}@example.test`);
        await t.http().get('/org/members').set(bearer(home.token)).expect(200);
        // Its own master record needs no tenant cluster.
        await t.http().get('/org/get').query({ organization_name: down.name }).expect(200);

        const readyStarted = Date.now();
        const readyDown = await t.http().get('/health/ready').expect(200);
        expect(Date.now() - readyStarted).toBeLessThan(1000);
        expect(readyDown.body.status).toBe('degraded');
        expect(readyDown.body.details.database.status).toBe('up');
        expect(readyDown.body.details.clusters).toEqual({
          status: 'degraded',
          states: { default: 'up', 'eu-1': 'up', 'eu-2': 'down' },
        });
      } finally {
        await eu2.startProcess();
      }

      // Back without a restart.
      const deadline = Date.now() + 15_000;
      let status = 0;
      while (Date.now() < deadline) {
        status = (await t.http().get('/org/members').set(bearer(down.token))).status;
        if (status === 200) break;
        await sleep(200);
      }
      expect(status).toBe(200);
      await t.http().get('/health/ready').expect(200);
    });

    it('answers 503 ORG_CLUSTER_NOT_CONFIGURED for an organization whose cluster was removed from the configuration', async () => {
      const org = await createOn('eu-1');
      await t.http().get('/org/members').set(bearer(org.token)).expect(200);
      // The same master database, restarted without eu-1.
      const masterDbName = t.master.name;
      const shrunk = await createTestApp({
        masterDbName,
        env: {
          TENANT_CLUSTERS: JSON.stringify({ 'eu-2': eu2.uri }),
          SUPERADMIN_EMAIL: SUPERADMIN.email,
          SUPERADMIN_PASSWORD: SUPERADMIN.password,
        },
      });
      try {
        const token = await login(shrunk, org.email, PASSWORD);
        const res = await shrunk.http().get('/org/members').set(bearer(token));
        expect(res.status).toBe(503);
        expect(res.headers['content-type']).toMatch(PROBLEM);
        expect(res.body.code).toBe('ORG_CLUSTER_NOT_CONFIGURED');
        const removal = await shrunk
          .http()
          .delete('/org/delete')
          .query({ organization_name: org.name })
          .set(bearer(token));
        expect(removal.status).toBe(503);
        expect(removal.body.code).toBe('ORG_CLUSTER_NOT_CONFIGURED');
        // Its data is untouched: the orphan collector never looks at a cluster it cannot name.
        expect(await databasesOn('eu-1')).toContain(`org_${slugOf(org.name)}`);
      } finally {
        await shrunk.close();
      }
    });
  });
});
