import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ObjectId } from 'mongodb';
import type { Response } from 'supertest';
import { MoveOrganizationOperation } from '../src/organizations/lifecycle/move-organization.operation';
import type { OperationHooks } from '../src/organizations/lifecycle/operation-hooks';
import { OperationRepairService } from '../src/organizations/lifecycle/operation-repair.service';
import { OrphanCollector } from '../src/organizations/lifecycle/orphan-collector';
import { apiClient, expectProblem, type AdminSession } from './utils/api';
import { type ClusterName, launchTestClusters, type TestClusters } from './utils/clusters';
import { compileService, PROJECT } from './utils/compiled-service';
import { createOrg, PASSWORD, tenantDbNameOf, type OrgFixture } from './utils/fixtures';
import { FreezingHooks } from './utils/freezing-hooks';
import { PausingHooks } from './utils/pausing-hooks';
import { createTestApp, uniqueMasterDb, uniqueSuffix, type TestApp } from './utils/test-app';

const SUPERADMIN = { email: 'move-operator@example.test', password: 'operator password 1' };
const LEASE_MS = 1000;

/**
 * Two more real database servers act as tenant clusters `eu-1` and `eu-2`
 * beside the test database (`default`); a move's data is checked on the
 * server it must be on, and gone from the one it left.
 */
describe('Moving an organization between clusters (e2e)', () => {
  let clusters: TestClusters;
  const direct = (cluster: ClusterName) => clusters.direct[cluster];
  const databasesOn = (cluster: ClusterName) => clusters.databasesOn(cluster);
  let t: TestApp;
  let operator: AdminSession;

  /** An app on these clusters with the super admin (and `hooks` to stop an operation somewhere). */
  const start = (
    options: { masterDbName?: string; env?: Record<string, string>; hooks?: OperationHooks } = {},
  ) =>
    createTestApp({
      masterDbName: options.masterDbName,
      hooks: options.hooks,
      env: {
        TENANT_CLUSTERS: clusters.tenantClusters,
        SUPERADMIN_EMAIL: SUPERADMIN.email,
        SUPERADMIN_PASSWORD: SUPERADMIN.password,
        // A move's synchronous answer is under test, however slow the machine.
        SYNC_OPERATION_BUDGET_MS: '50000',
        ...options.env,
      },
    });

  /** Creates an organization on `cluster` (as the super admin of `app`) with seeded data. */
  async function seededOrg(app: TestApp, cluster: ClusterName = 'default'): Promise<OrgFixture> {
    const root = await apiClient(app).loginAs(SUPERADMIN.email, SUPERADMIN.password);
    const org = await createOrg(app, 'Mover', { by: root, extra: { cluster } });
    for (let i = 0; i < 3; i += 1) {
      await org.owner.members.add({ email: `m${i}@example.test`, name: `M ${i}` }).expect(201);
    }
    const db = direct(cluster).db(tenantDbNameOf(org.name));
    await db
      .collection('projects')
      .insertMany(Array.from({ length: 300 }, (_, i) => ({ title: `p${i}`, n: i })));
    await db.collection('projects').createIndex({ title: 1 }, { unique: true, name: 'title_1' });
    return org;
  }

  /** Collections, document counts and `projects` indexes of the tenant database on `cluster`. */
  async function snapshot(cluster: ClusterName, databaseName: string) {
    const db = direct(cluster).db(databaseName);
    const names = (await db.listCollections({}, { nameOnly: true }).toArray())
      .map((c) => c.name)
      .filter((name) => name !== '_tenant_meta')
      .sort();
    const counts: Record<string, number> = {};
    for (const name of names) counts[name] = await db.collection(name).countDocuments({});
    const indexes = (await db.collection('projects').listIndexes().toArray())
      .map((ix) => ix.name as string)
      .sort();
    return { names, counts, indexes };
  }

  /** Asserts the organization lives on `live` (all its data) and nowhere else. */
  async function expectOn(app: TestApp, org: OrgFixture, live: ClusterName) {
    const database = tenantDbNameOf(org.name);
    const record = await app.master
      .collection('organizations')
      .findOne({ _id: new ObjectId(org.id) });
    expect(record).toMatchObject({ pending: null, database_name: database });
    expect(record?.cluster ?? 'default').toBe(live);
    for (const cluster of ['default', 'eu-1', 'eu-2'] as const) {
      expect({ cluster, present: (await databasesOn(cluster)).includes(database) }).toEqual({
        cluster,
        present: cluster === live,
      });
    }
    expect(await snapshot(live, database)).toEqual({
      names: ['members', 'projects'],
      counts: { members: 3, projects: 300 },
      indexes: ['_id_', 'title_1'],
    });
    const owner = await apiClient(app).loginAs(org.email, PASSWORD);
    const view = await owner.getOrg(org.name).expect(200);
    expect(view.body.cluster).toBe(live);
    const members = await owner.members.list().expect(200);
    expect(members.body.items).toHaveLength(3);
  }

  beforeAll(async () => {
    clusters = await launchTestClusters();
    t = await start();
    operator = await apiClient(t).loginAs(SUPERADMIN.email, SUPERADMIN.password);
  }, 90_000);

  afterAll(async () => {
    await t?.close();
    await clusters?.stop();
  });

  describe('a completed move', () => {
    it('carries every collection, document and index to the other cluster, drops the old copy, and is audited', async () => {
      const org = await seededOrg(t);
      const moved = await operator.moveOrg({ organization_name: org.name, cluster: 'eu-1' });
      expect(moved.status).toBe(200);
      expect(moved.body).toMatchObject({
        organization_name: org.name,
        database_name: tenantDbNameOf(org.name),
        cluster: 'eu-1',
        admin: { id: org.adminId, email: org.email },
      });
      await expectOn(t, org, 'eu-1');
      // The copy's unique index is a real one in its new home.
      await expect(
        direct('eu-1')
          .db(tenantDbNameOf(org.name))
          .collection('projects')
          .insertOne({ title: 'p1' }),
      ).rejects.toMatchObject({ code: 11000 });

      // And on again, from one tenant cluster to another.
      await operator.moveOrg({ organization_name: org.name, cluster: 'eu-2' }).expect(200);
      await expectOn(t, org, 'eu-2');

      const trail = await operator.audit({ limit: 100 }).expect(200);
      const moves = (
        trail.body.items as Array<{ action: string; details: Record<string, unknown> }>
      ).filter(
        (e) => e.action === 'organization.moved' && e.details.organization_name === org.name,
      );
      expect(moves.map((e) => [e.details.from, e.details.to])).toEqual([
        ['eu-1', 'eu-2'],
        ['default', 'eu-1'],
      ]);
    });

    it('keeps every acknowledged member write of a move under concurrent writes', async () => {
      const org = await seededOrg(t);
      // Enough data that the copy takes a while.
      await direct('default')
        .db(tenantDbNameOf(org.name))
        .collection('history')
        .insertMany(Array.from({ length: 3000 }, (_, i) => ({ n: i, blob: 'x'.repeat(200) })));
      const acknowledged: string[] = [];
      const refusals: Response[] = [];
      let moving = true;
      const writer = async (w: number) => {
        for (let i = 0; moving; i += 1) {
          const email = `w${w}-${i}@example.test`;
          const res = await org.owner.members.add({ email, name: 'Writer' });
          if (res.status === 201) acknowledged.push(email);
          else refusals.push(res);
        }
      };
      const writers = [0, 1, 2].map(writer);
      await sleep(100);
      const move = await operator.moveOrg({ organization_name: org.name, cluster: 'eu-1' });
      moving = false;
      await Promise.all(writers);
      expect(move.status).toBe(200);
      for (const refused of refusals) expectProblem(refused, 409, 'ORG_BUSY');
      expect(acknowledged.length).toBeGreaterThan(0);

      const stored = await direct('eu-1')
        .db(tenantDbNameOf(org.name))
        .collection('members')
        .find({}, { projection: { email: 1 } })
        .toArray();
      const emails = new Set(stored.map((m) => m.email as string));
      expect(acknowledged.filter((email) => !emails.has(email))).toEqual([]);
      expect(await databasesOn('default')).not.toContain(tenantDbNameOf(org.name));
    });
  });

  describe('as a long operation', () => {
    it('answers 202 with the operation under Prefer: respond-async, which ends succeeded with the owner view', async () => {
      const org = await seededOrg(t);
      const accepted = await operator
        .moveOrg({ organization_name: org.name, cluster: 'eu-2' })
        .set('Prefer', 'respond-async');
      expect(accepted.status).toBe(202);
      expect(accepted.headers.location).toBe(`/org/operations/${accepted.body.id}`);
      expect(accepted.body).toMatchObject({ type: 'move', organization_name: org.name });
      let operation = accepted.body as { status: string; result?: unknown };
      for (let i = 0; i < 100 && operation.status === 'running'; i += 1) {
        await sleep(100);
        operation = (
          await t
            .http()
            .get(accepted.headers.location)
            .set('Authorization', `Bearer ${operator.token}`)
            .expect(200)
        ).body;
      }
      expect(operation).toMatchObject({
        status: 'succeeded',
        result: { cluster: 'eu-2', admin: { email: org.email } },
        progress: { documents_copied: 303, documents_total: 303 },
      });
      await expectOn(t, org, 'eu-2');
    });
  });

  describe('the orphan collector after a move', () => {
    it("drops an empty leftover of the organization's name on the cluster it left, never its live copy", async () => {
      const org = await seededOrg(t);
      await operator.moveOrg({ organization_name: org.name, cluster: 'eu-1' }).expect(200);
      // What a member write that stalled past the move leaves on the old
      // cluster once its stray insert is cleaned up: a collection, no documents.
      const database = tenantDbNameOf(org.name);
      await direct('default').db(database).createCollection('members');
      expect(await databasesOn('default')).toContain(database);

      await t.app.get(OrphanCollector).collect();
      await expectOn(t, org, 'eu-1');
    });

    /**
     * What a mover's metadata write leaves on the target cluster when it
     * lands after repair rolled the move back and dropped the target: the
     * organization's own metadata, of an operation that is over.
     */
    async function leaveAbortedMoveTarget(org: OrgFixture, cluster: ClusterName) {
      const database = tenantDbNameOf(org.name);
      const meta = await direct('default')
        .db(database)
        .collection<{ _id: string }>('_tenant_meta')
        .findOne({ _id: 'tenant' });
      expect(meta).toMatchObject({ organization_id: new ObjectId(org.id) });
      await direct(cluster)
        .db(database)
        .collection<{ _id: string; op_id: string }>('_tenant_meta')
        .insertOne({ ...meta!, op_id: randomUUID() });
      expect(await databasesOn(cluster)).toContain(database);
    }

    it("drops an aborted move's leftover on the cluster it never reached, never the live copy", async () => {
      const org = await seededOrg(t);
      await leaveAbortedMoveTarget(org, 'eu-1');
      await t.app.get(OrphanCollector).collect();
      await expectOn(t, org, 'default');
    });

    it('takes such a leftover back when the organization moves to that cluster', async () => {
      const org = await seededOrg(t);
      await leaveAbortedMoveTarget(org, 'eu-2');
      await operator.moveOrg({ organization_name: org.name, cluster: 'eu-2' }).expect(200);
      await expectOn(t, org, 'eu-2');
    });

    it('keeps such a copy while the database in use under its name proves nothing (wiped)', async () => {
      const org = await seededOrg(t);
      await leaveAbortedMoveTarget(org, 'eu-1');
      const database = tenantDbNameOf(org.name);
      // A restore gone wrong: the organization's own database is empty now.
      await direct('default').db(database).dropDatabase();
      await t.app.get(OrphanCollector).collect();
      expect(await databasesOn('eu-1')).toContain(database);
      await direct('eu-1').db(database).dropDatabase();
    });
  });

  describe('two cluster names for one server', () => {
    it("refuses a move to the other name with 409, and the orphan collector leaves the organization's database there", async () => {
      const mirrored = await start({
        masterDbName: uniqueMasterDb(),
        env: {
          TENANT_CLUSTERS: JSON.stringify({
            'eu-1': clusters.eu1.uri,
            'eu-2': clusters.eu2.uri,
            mirror: process.env.MONGODB_URI,
          }),
        },
      });
      try {
        const org = await seededOrg(mirrored);
        const root = await apiClient(mirrored).loginAs(SUPERADMIN.email, SUPERADMIN.password);
        expectProblem(
          await root.moveOrg({ organization_name: org.name, cluster: 'mirror' }),
          409,
          'CONFLICT',
        );
        await expectOn(mirrored, org, 'default');
        await mirrored.app.get(OrphanCollector).collect();
        await expectOn(mirrored, org, 'default');
      } finally {
        await mirrored.close();
      }
    });
  });

  describe('refusals', () => {
    it('lets only the super admin move (401 anonymous, 403 an owner)', async () => {
      const org = await seededOrg(t);
      const body = { organization_name: org.name, cluster: 'eu-1' };
      expectProblem(await apiClient(t).moveOrg(body), 401, 'UNAUTHORIZED');
      expectProblem(await org.owner.moveOrg(body), 403, 'FORBIDDEN');
      await expectOn(t, org, 'default');
    });

    it('refuses an unknown cluster with 400 naming the field, an unknown organization with 404, the cluster it is on with 409 ALREADY_THERE', async () => {
      const org = await seededOrg(t, 'eu-1');
      const unknown = await operator.moveOrg({ organization_name: org.name, cluster: 'eu-9' });
      const problem = expectProblem(unknown, 400, 'VALIDATION_FAILED');
      expect(problem.errors).toEqual([expect.objectContaining({ field: 'cluster' })]);
      expectProblem(
        await operator.moveOrg({ organization_name: `Nobody ${uniqueSuffix()}`, cluster: 'eu-2' }),
        404,
        'ORG_NOT_FOUND',
      );
      expectProblem(
        await operator.moveOrg({ organization_name: org.name, cluster: 'eu-1' }),
        409,
        'ALREADY_THERE',
      );
      await expectOn(t, org, 'eu-1');
    });
  });

  /**
   * Freezes a move at `point` in one instance (to the database, a process that
   * died there), then starts a second one on the same master after the lease
   * ran out: its start-up repair must leave one complete copy, where the
   * record says.
   */
  describe.each([
    ['recorded', 'rolled back'],
    ['target_claimed', 'rolled back'],
    ['copied', 'rolled back'],
    ['verified', 'rolled back'],
    ['switched', 'rolled forward'],
    ['source_dropped', 'rolled forward'],
  ])('a move interrupted at %s', (point, outcome) => {
    it(`is ${outcome} by the next instance, and the organization can move again`, async () => {
      const masterDbName = uniqueMasterDb();
      const env = { OPERATION_LEASE_MS: String(LEASE_MS), TENANT_WRITE_DRAIN_MS: '500' };
      const hooks = new FreezingHooks('move', point);
      const first = await start({ masterDbName, hooks, env });
      const org = await seededOrg(first);
      void first.app.get(MoveOrganizationOperation).run(new ObjectId(org.id), 'eu-1');
      await hooks.frozen;
      await first.close();
      await sleep(LEASE_MS + 200);
      const restarted = await start({ masterDbName, env });
      try {
        const live = outcome === 'rolled forward' ? 'eu-1' : 'default';
        await expectOn(restarted, org, live);
        const root = await apiClient(restarted).loginAs(SUPERADMIN.email, SUPERADMIN.password);
        await root.moveOrg({ organization_name: org.name, cluster: 'eu-2' }).expect(200);
        await expectOn(restarted, org, 'eu-2');
      } finally {
        await restarted.close();
      }
    });
  });

  describe('fencing', () => {
    const env = {
      OPERATION_LEASE_MS: String(LEASE_MS),
      TENANT_WRITE_DRAIN_MS: '500',
      // The paused worker's synchronous answer is under test, however long the pause.
      SYNC_OPERATION_BUDGET_MS: '50000',
    };

    /** Waits until `app` has put the operation right (no pending left). */
    async function repairedBy(app: TestApp, organizationId: string) {
      const repair = app.app.get(OperationRepairService);
      for (let i = 0; i < 100; i += 1) {
        await repair.repairStale();
        const org = await app.master
          .collection('organizations')
          .findOne({ _id: new ObjectId(organizationId) });
        if (!org?.pending) return;
        await sleep(100);
      }
      throw new Error('repair did not finish');
    }

    it.each([
      // Before its claim: the retry completed on the very target it would claim.
      ['recorded', 'rolled back'],
      ['copied', 'rolled back'],
      ['switched', 'rolled forward'],
    ])(
      'a mover paused at %s, %s by another instance and moved again, answers 503 on resuming and changes nothing',
      async (point) => {
        const masterDbName = uniqueMasterDb();
        const hooks = new PausingHooks('move', point);
        const worker = await start({ masterDbName, hooks, env });
        const repairer = await start({ masterDbName, env });
        try {
          const org = await seededOrg(worker);
          const root = await apiClient(worker).loginAs(SUPERADMIN.email, SUPERADMIN.password);
          const paused = root
            .moveOrg({ organization_name: org.name, cluster: 'eu-1' })
            .then((r: Response) => r);
          await hooks.paused;
          await sleep(LEASE_MS + 200);
          await repairedBy(repairer, org.id);

          // Wherever repair left it, a new move takes it to where the paused
          // one would drop or overwrite: back to default after a roll forward,
          // on to eu-1 after a roll back.
          const next = point === 'switched' ? 'default' : 'eu-1';
          const repairerRoot = await apiClient(repairer).loginAs(
            SUPERADMIN.email,
            SUPERADMIN.password,
          );
          await repairerRoot.moveOrg({ organization_name: org.name, cluster: next }).expect(200);

          hooks.resume();
          expectProblem(await paused, 503, 'OPERATION_INTERRUPTED');
          await expectOn(repairer, org, next);
        } finally {
          await worker.close();
          await repairer.close();
        }
      },
    );
  });

  describe('a target cluster that is down', () => {
    it('refuses the move with 503 before anything is recorded', async () => {
      const org = await seededOrg(t);
      await clusters.eu2.stopProcess();
      try {
        const res = await operator.moveOrg({ organization_name: org.name, cluster: 'eu-2' });
        expectProblem(res, 503, 'SERVICE_UNAVAILABLE');
        const record = await t.master
          .collection('organizations')
          .findOne({ _id: new ObjectId(org.id) });
        expect(record).toMatchObject({ pending: null, cluster: 'default' });
      } finally {
        await clusters.eu2.startProcess();
      }
      await expectOn(t, org, 'default');
    });
  });

  describe('a target cluster that dies mid-copy', () => {
    it('answers 503, releases the organization at once, and its copy there is collected once the cluster is back', async () => {
      const hooks = new PausingHooks('move', 'target_claimed');
      const app = await start({ masterDbName: uniqueMasterDb(), hooks });
      try {
        const org = await seededOrg(app);
        const database = tenantDbNameOf(org.name);
        const root = await apiClient(app).loginAs(SUPERADMIN.email, SUPERADMIN.password);
        const moving = root
          .moveOrg({ organization_name: org.name, cluster: 'eu-2' })
          .then((r: Response) => r);
        await hooks.paused;
        await clusters.eu2.stopProcess();
        try {
          hooks.resume();
          expectProblem(await moving, 503, 'SERVICE_UNAVAILABLE');
          // No waiting for the dead cluster: the organization is idle on its
          // source, and takes writes.
          const record = await app.master
            .collection('organizations')
            .findOne({ _id: new ObjectId(org.id) });
          expect(record).toMatchObject({ pending: null, cluster: 'default' });
          const added = await org.owner.members
            .add({ email: 'during-outage@example.test', name: 'Still writable' })
            .expect(201);
          await org.owner.members.remove(added.body.id as string).expect(204);
        } finally {
          await clusters.eu2.startProcess();
        }
        expect(await databasesOn('eu-2')).toContain(database);
        await app.app.get(OrphanCollector).collect();
        await expectOn(app, org, 'default');
      } finally {
        await app.close();
      }
    });
  });

  describe('the command line (npm run tenants:move)', () => {
    let buildDir: string;
    beforeAll(() => {
      buildDir = compileService();
    });
    afterAll(() => rmSync(buildDir, { recursive: true, force: true }));

    /** Runs the compiled CLI against `masterDbName`; resolves with its exit code and output. */
    function moveCli(masterDbName: string, org: string, to: string) {
      const child = spawn(
        process.execPath,
        [join(buildDir, 'dist', 'organizations', 'move-tenant.cli.js'), '--org', org, '--to', to],
        {
          env: {
            ...process.env,
            NODE_PATH: join(PROJECT, 'node_modules'),
            MASTER_DB_NAME: masterDbName,
            TENANT_CLUSTERS: clusters.tenantClusters,
            SUPERADMIN_EMAIL: SUPERADMIN.email,
            SUPERADMIN_PASSWORD: SUPERADMIN.password,
            OPERATION_LEASE_MS: String(LEASE_MS),
            TENANT_WRITE_DRAIN_MS: '500',
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      return new Promise<{ code: number | null; output: string }>((done) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
        child.once('exit', (code) => {
          clearTimeout(timer);
          done({ code, output });
        });
      });
    }

    it('moves an organization, and run again has nothing left to do', async () => {
      const org = await seededOrg(t);
      const first = await moveCli(t.master.name, org.name, 'eu-1');
      expect(first).toMatchObject({ code: 0 });
      expect(first.output).toContain(`${org.name} is on eu-1.`);
      await expectOn(t, org, 'eu-1');
      const trail = await operator.audit({ limit: 100 }).expect(200);
      expect(trail.body.items).toContainEqual(
        expect.objectContaining({
          action: 'organization.moved',
          details: { organization_name: org.name, from: 'default', to: 'eu-1' },
        }),
      );

      const again = await moveCli(t.master.name, org.name, 'eu-1');
      expect(again).toMatchObject({ code: 0 });
      expect(again.output).toContain('nothing to move');
      await expectOn(t, org, 'eu-1');
    });

    it('run after an interrupted move, has it repaired and then finishes the move', async () => {
      const masterDbName = uniqueMasterDb();
      const hooks = new FreezingHooks('move', 'copied');
      const first = await start({
        masterDbName,
        hooks,
        env: { OPERATION_LEASE_MS: String(LEASE_MS), TENANT_WRITE_DRAIN_MS: '500' },
      });
      const org = await seededOrg(first);
      void first.app.get(MoveOrganizationOperation).run(new ObjectId(org.id), 'eu-2');
      await hooks.frozen;
      await first.close();

      // At once, while the lease still runs: the command waits it out.
      const resumed = await moveCli(masterDbName, org.name, 'eu-2');
      expect(resumed).toMatchObject({ code: 0 });
      const checker = await start({ masterDbName });
      try {
        await expectOn(checker, org, 'eu-2');
      } finally {
        await checker.close();
      }
    });

    it('refuses an unknown cluster with exit code 1, changing nothing', async () => {
      const org = await seededOrg(t);
      const refused = await moveCli(t.master.name, org.name, 'eu-9');
      expect(refused.code).toBe(1);
      expect(refused.output).toContain('VALIDATION_FAILED');
      await expectOn(t, org, 'default');
    });
  });
});
