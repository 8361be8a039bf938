import { setTimeout as sleep } from 'node:timers/promises';
import { ObjectId } from 'mongodb';
import { ClusterConnections } from '../src/database/cluster-connections';
import { OrphanCollector } from '../src/organizations/lifecycle/orphan-collector';
import { apiClient, expectProblem, type AdminSession } from './utils/api';
import { type ClusterName, launchTestClusters, type TestClusters } from './utils/clusters';
import {
  createOrg,
  newOrgInput,
  PASSWORD,
  tenantDbNameOf,
  type OrgFixture,
} from './utils/fixtures';
import { createTestApp, type TestApp, uniqueSuffix } from './utils/test-app';

const SUPERADMIN = { email: 'clusters-operator@example.test', password: 'operator password 1' };

/**
 * Two more real database servers act as tenant clusters `eu-1` and `eu-2`
 * beside the test database (`default`, which also holds the master), and
 * tenant data is checked on the server it must be on.
 */
describe('Several database clusters (e2e)', () => {
  let clusters: TestClusters;
  let t: TestApp;
  let operator: AdminSession;
  const direct = (cluster: ClusterName) => clusters.direct[cluster];
  const databasesOn = (cluster: ClusterName) => clusters.databasesOn(cluster);

  const start = ({ masterDbName, ...env }: Record<string, string> = {}) =>
    createTestApp({
      masterDbName,
      env: {
        TENANT_CLUSTERS: clusters.tenantClusters,
        SUPERADMIN_EMAIL: SUPERADMIN.email,
        SUPERADMIN_PASSWORD: SUPERADMIN.password,
        ...env,
      },
    });

  /** Creates an organization as the super admin, on `cluster`. */
  async function createOn(cluster: string): Promise<OrgFixture> {
    const org = await createOrg(t, 'Cell', { by: operator, extra: { cluster } });
    const view = await org.owner.getOrg(org.name).expect(200);
    expect(view.body.cluster).toBe(cluster);
    return org;
  }

  const addMember = (org: OrgFixture, email: string) =>
    org.owner.members.add({ email, name: 'A Member' }).expect(201);

  beforeAll(async () => {
    clusters = await launchTestClusters();
    t = await start();
    operator = await apiClient(t).loginAs(SUPERADMIN.email, SUPERADMIN.password);
  }, 90_000);

  afterAll(async () => {
    await t?.close();
    await clusters?.stop();
  });

  describe('placement', () => {
    it('places a new organization on default under the default placement, and says so to its owner', async () => {
      const org = await createOrg(t, 'Plain');
      const view = await org.owner.getOrg(org.name).expect(200);
      expect(view.body.cluster).toBe('default');
      const database = tenantDbNameOf(org.name);
      expect(await databasesOn('default')).toContain(database);
      expect(await databasesOn('eu-1')).not.toContain(database);
    });

    it('lets the super admin place an organization on a named cluster, shown in the list and the audit trail', async () => {
      const org = await createOn('eu-2');
      const database = tenantDbNameOf(org.name);
      expect(await databasesOn('eu-2')).toContain(database);
      expect(await databasesOn('default')).not.toContain(database);

      const list = await operator.listOrgs({ q: org.name }).expect(200);
      expect(list.body.items).toEqual([
        expect.objectContaining({ organization_name: org.name, cluster: 'eu-2' }),
      ]);
      const trail = await operator.audit({ limit: 100 }).expect(200);
      const created = (
        trail.body.items as Array<{ action: string; details: Record<string, unknown> }>
      ).find(
        (e) => e.action === 'organization.created' && e.details.organization_name === org.name,
      );
      expect(created?.details.cluster).toBe('eu-2');
    });

    it('refuses a cluster named by anyone but the super admin with 403, creating nothing', async () => {
      const owner = await createOrg(t, 'Chooser');
      for (const caller of [apiClient(t), owner.owner]) {
        const input = newOrgInput('Refused');
        expectProblem(await caller.createOrg({ ...input, cluster: 'eu-1' }), 403, 'FORBIDDEN');
        await apiClient(t).getOrg(input.organization_name).expect(404);
      }
    });

    it('refuses an unknown cluster with 400 naming the field', async () => {
      const input = newOrgInput('Nowhere');
      const res = await operator.createOrg({ ...input, cluster: 'eu-9' });
      const problem = expectProblem(res, 400, 'VALIDATION_FAILED');
      expect(problem.errors).toEqual([expect.objectContaining({ field: 'cluster' })]);
      await apiClient(t).getOrg(input.organization_name).expect(404);
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
          const created = await apiClient(spread).createOrg(newOrgInput('Spread'));
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
      const database = tenantDbNameOf(org.name);
      const member = `member-${uniqueSuffix()}@example.test`;
      await addMember(org, member);
      const stored = await direct('eu-1')
        .db(database)
        .collection('members')
        .findOne({ email: member });
      expect(stored).not.toBeNull();

      const renamed = `${org.name} Renamed`;
      const target = tenantDbNameOf(renamed);
      const update = await org.owner.rename(renamed).expect(200);
      expect(update.body).toMatchObject({ cluster: 'eu-1', database_name: target });
      expect(await databasesOn('eu-1')).toContain(target);
      expect(await databasesOn('eu-1')).not.toContain(database);
      expect(await databasesOn('default')).not.toContain(target);
      const copied = await direct('eu-1')
        .db(target)
        .collection('members')
        .findOne({ email: member });
      expect(copied).not.toBeNull();
      const members = await org.owner.members.list().expect(200);
      expect(members.body.items).toEqual([expect.objectContaining({ email: member })]);

      await org.owner.deleteOrg(renamed).expect(200);
      expect(await databasesOn('eu-1')).not.toContain(target);
      await apiClient(t).getOrg(renamed).expect(404);
    });

    it('collects an orphaned tenant database on a second cluster, and leaves foreign data there alone', async () => {
      const suffix = uniqueSuffix();
      const empty = `org_orphan_empty_${suffix}`;
      const foreign = `org_orphan_foreign_${suffix}`;
      const used = await createOn('eu-2');
      // A late write's leftover (a collection without documents) and someone else's data.
      await direct('eu-2').db(empty).createCollection('members');
      await direct('eu-2').db(foreign).collection('things').insertOne({ a: 1 });
      expect(await databasesOn('eu-2')).toEqual(expect.arrayContaining([empty, foreign]));

      const collected = await t.app.get(OrphanCollector).collect();
      expect(collected.databases).toBeGreaterThanOrEqual(1);
      const left = await databasesOn('eu-2');
      expect(left).not.toContain(empty);
      expect(left).toContain(foreign);
      expect(left).toContain(tenantDbNameOf(used.name));
      await direct('eu-2').db(foreign).dropDatabase();
    });
  });

  describe('a tenant cluster going down', () => {
    it('fails only its own tenants, fast and with 503, and shows it in readiness', async () => {
      const down = await createOn('eu-2');
      const up = await createOn('eu-1');
      const home = await createOrg(t, 'Home');
      await addMember(down, `before-${uniqueSuffix()}@example.test`);
      const ready = await t.http().get('/health/ready').expect(200);
      expect(ready.body.details.clusters.states).toEqual({
        default: 'up',
        'eu-1': 'up',
        'eu-2': 'up',
      });

      await clusters.eu2.stopProcess();
      try {
        // Until the driver's verdict, a request waits at most the tenant
        // cluster's short server selection (2 s; the master's would be 5 s,
        // the driver's default 30 s); after it, none waits at all.
        const clusters = t.app.get(ClusterConnections);
        const deadline = Date.now() + 20_000;
        do {
          const started = Date.now();
          expectProblem(await down.owner.members.list(), 503, 'SERVICE_UNAVAILABLE');
          expect(Date.now() - started).toBeLessThan(5000);
          await sleep(250);
        } while (clusters.mayBeUp('eu-2') && Date.now() < deadline);
        expect(clusters.mayBeUp('eu-2')).toBe(false);

        const started = Date.now();
        const write = await down.owner.members.add({
          email: `during-${uniqueSuffix()}@example.test`,
          name: 'Nobody',
        });
        expectProblem(write, 503, 'SERVICE_UNAVAILABLE');
        expectProblem(
          await down.owner.rename(`${down.name} Elsewhere`),
          503,
          'SERVICE_UNAVAILABLE',
        );
        expect(Date.now() - started).toBeLessThan(1000);
        // Refused before anything was recorded: the organization is not left busy.
        const record = await t.master
          .collection('organizations')
          .findOne({ _id: new ObjectId(down.id) });
        expect(record?.pending).toBeNull();

        // Everyone else is served as usual.
        await up.owner.members.list().expect(200);
        await addMember(up, `while-${uniqueSuffix()}@example.test`);
        await home.owner.members.list().expect(200);
        // Its own master record needs no tenant cluster.
        await apiClient(t).getOrg(down.name).expect(200);

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
        await clusters.eu2.startProcess();
      }

      // Back without a restart.
      const deadline = Date.now() + 15_000;
      let status = 0;
      while (Date.now() < deadline) {
        status = (await down.owner.members.list()).status;
        if (status === 200) break;
        await sleep(200);
      }
      expect(status).toBe(200);
      await t.http().get('/health/ready').expect(200);
    });

    it('answers 503 ORG_CLUSTER_NOT_CONFIGURED for an organization whose cluster was removed from the configuration', async () => {
      const org = await createOn('eu-1');
      await org.owner.members.list().expect(200);
      // The same master database, restarted without eu-1.
      const masterDbName = t.master.name;
      const shrunk = await createTestApp({
        masterDbName,
        env: {
          TENANT_CLUSTERS: JSON.stringify({ 'eu-2': clusters.eu2.uri }),
          SUPERADMIN_EMAIL: SUPERADMIN.email,
          SUPERADMIN_PASSWORD: SUPERADMIN.password,
        },
      });
      try {
        const owner = await apiClient(shrunk).loginAs(org.email, PASSWORD);
        expectProblem(await owner.members.list(), 503, 'ORG_CLUSTER_NOT_CONFIGURED');
        expectProblem(await owner.deleteOrg(org.name), 503, 'ORG_CLUSTER_NOT_CONFIGURED');
        // Its data is untouched: the orphan collector never looks at a cluster it cannot name.
        expect(await databasesOn('eu-1')).toContain(tenantDbNameOf(org.name));
      } finally {
        await shrunk.close();
      }
    });
  });
});
