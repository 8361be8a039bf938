import { setTimeout as sleep } from 'node:timers/promises';
import { Types } from 'mongoose';
import { CreateOrganizationOperation } from '../src/organizations/lifecycle/create-organization.operation';
import { DeleteOrganizationOperation } from '../src/organizations/lifecycle/delete-organization.operation';
import { RenameOrganizationOperation } from '../src/organizations/lifecycle/rename-organization.operation';
import { slugify } from '../src/organizations/organization-name';
import { apiClient, expectProblem } from './utils/api';
import {
  createOrg,
  newOrgInput,
  PASSWORD,
  tenantDbNameOf as dbNameOf,
  type OrgFixture,
} from './utils/fixtures';
import { FreezingHooks } from './utils/freezing-hooks';
import { createTestApp, tenantDatabases, uniqueMasterDb, type TestApp } from './utils/test-app';

const LEASE_MS = 1000;

/** Seeds the tenant database directly: several collections, documents and a unique index. */
async function seedTenant(t: TestApp, databaseName: string) {
  const db = t.master.getClient().db(databaseName);
  await db
    .collection('members')
    .insertMany(Array.from({ length: 250 }, (_, i) => ({ email: `m${i}@example.test`, n: i })));
  await db.collection('members').createIndex({ email: 1 }, { unique: true, name: 'email_unique' });
  await db
    .collection('projects')
    .insertMany(Array.from({ length: 40 }, (_, i) => ({ title: `p${i}` })));
  await db.collection('settings').insertOne({ _id: 'main' as never, theme: 'dark' });
}

async function tenantSnapshot(t: TestApp, databaseName: string) {
  const db = t.master.getClient().db(databaseName);
  const names = (await db.listCollections({}, { nameOnly: true }).toArray())
    .map((c) => c.name)
    .sort();
  const counts: Record<string, number> = {};
  for (const name of names) counts[name] = await db.collection(name).countDocuments({});
  const memberIndexes = names.includes('members')
    ? (await db.collection('members').listIndexes().toArray()).map((ix) => ix.name).sort()
    : [];
  return { names, counts, memberIndexes };
}

describe('Rename moves tenant data; interrupted operations are repaired (e2e)', () => {
  describe('a completed rename', () => {
    let t: TestApp;
    beforeAll(async () => (t = await createTestApp()));
    afterAll(async () => {
      await t.close();
    });

    it('carries every collection, document and index to the new database and leaves no old one', async () => {
      const org = await createOrg(t, 'Mover');
      await seedTenant(t, dbNameOf(org.name));
      const before = await tenantSnapshot(t, dbNameOf(org.name));
      const newName = `${org.name} Moved`;
      const res = await org.owner.rename(newName).expect(200);
      expect(res.body.database_name).toBe(dbNameOf(newName));
      const databases = await tenantDatabases(t.master);
      expect(databases).toContain(dbNameOf(newName));
      expect(databases).not.toContain(dbNameOf(org.name));
      expect(await tenantSnapshot(t, dbNameOf(newName))).toEqual(before);
      expect(before.memberIndexes).toEqual(['_id_', 'email_unique']);
      expect(before.counts.members).toBe(250);
      // The unique index really is a unique index in its new home.
      await expect(
        t.master
          .getClient()
          .db(dbNameOf(newName))
          .collection('members')
          .insertOne({ email: 'm1@example.test' }),
      ).rejects.toMatchObject({ code: 11000 });
      // The old name is free again.
      await apiClient(t)
        .createOrg({ ...newOrgInput(), organization_name: org.name })
        .expect(201);
    });

    it("renames onto a name whose database holds only a late write's empty collections", async () => {
      const org = await createOrg(t, 'Landing');
      await seedTenant(t, dbNameOf(org.name));
      const before = await tenantSnapshot(t, dbNameOf(org.name));
      const newName = `${org.name} Spot`;
      // What a member write that stalled past a delete of the name's last
      // holder leaves once its stray document is taken back.
      await t.master.getClient().db(dbNameOf(newName)).createCollection('members');
      await org.owner.rename(newName).expect(200);
      expect(await tenantSnapshot(t, dbNameOf(newName))).toEqual(before);
    });

    it('never runs two renames of one organization at once (10 concurrent requests)', async () => {
      const org = await createOrg(t, 'Contended');
      await seedTenant(t, dbNameOf(org.name));
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => org.owner.rename(`${org.name} V${i}`)),
      );
      // Renames that arrive after another finished may run too, one at a
      // time; every other request is turned away while one is running.
      const ok = results.filter((r) => r.status === 200);
      expect(ok.length).toBeGreaterThanOrEqual(1);
      expect(results.filter((r) => r.status !== 200).map((r) => r.body.code)).toEqual(
        Array(10 - ok.length).fill('ORG_BUSY'),
      );
      for (const busy of results.filter((r) => r.status !== 200)) {
        expectProblem(busy, 409, 'ORG_BUSY');
      }
      const view = await org.owner.admins.list().expect(200);
      expect(view.body.items).toHaveLength(1);
      const current = await t.master
        .db!.collection('organizations')
        .findOne({ slug: { $regex: `^${slugify(org.name)}` } });
      expect(current!.pending).toBeNull();
      const databases = (await tenantDatabases(t.master)).filter((d) =>
        d.startsWith(dbNameOf(org.name)),
      );
      expect(databases).toEqual([current!.database_name]);
      expect((await tenantSnapshot(t, current!.database_name)).counts).toMatchObject({
        members: 250,
        projects: 40,
        settings: 1,
      });
      const reservations = await t.master
        .db!.collection('organization_slugs')
        .find({ organization_id: current!._id })
        .toArray();
      expect(reservations.map((r) => r._id)).toEqual([current!.slug]);
    });

    it('answers 409 ORG_BUSY to an update while a rename of the same organization runs', async () => {
      const hooks = new FreezingHooks('rename', 'copied');
      const frozenApp = await createTestApp({ hooks });
      try {
        const org = await createOrg(frozenApp);
        const stuck = frozenApp.app
          .get(RenameOrganizationOperation)
          .run(new Types.ObjectId(org.id), `${org.name} Next`);
        void stuck;
        await hooks.frozen;
        expectProblem(await org.owner.rename(`${org.name} Other`), 409, 'ORG_BUSY');
        expectProblem(await org.owner.deleteOrg(org.name), 409, 'ORG_BUSY');
      } finally {
        await frozenApp.close();
      }
    });
  });

  /**
   * Freezes an operation at `point` in one app instance, "restarts" the
   * service (a second instance on the same master database, after the lease
   * ran out) and returns the restarted instance for assertions.
   */
  async function interruptAndRestart(
    type: 'create' | 'rename' | 'delete',
    point: string,
    act: (first: TestApp, org: OrgFixture | undefined) => Promise<unknown>,
    prepare?: (first: TestApp) => Promise<OrgFixture>,
  ): Promise<{ restarted: TestApp; org?: OrgFixture; masterDbName: string }> {
    const masterDbName = uniqueMasterDb();
    const hooks = new FreezingHooks(type, point);
    const env = { OPERATION_LEASE_MS: String(LEASE_MS), TENANT_WRITE_DRAIN_MS: '500' };
    const first = await createTestApp({ masterDbName, hooks, env });
    const org = prepare ? await prepare(first) : undefined;
    void act(first, org);
    await hooks.frozen;
    await first.close();
    await sleep(LEASE_MS + 200);
    const restarted = await createTestApp({ masterDbName, env });
    return { restarted, org, masterDbName };
  }

  async function seededOrg(t: TestApp): Promise<OrgFixture> {
    const org = await createOrg(t, 'Crash');
    await seedTenant(t, dbNameOf(org.name));
    return org;
  }

  describe.each([
    ['recorded', 'rolled back'],
    ['slug_reserved', 'rolled back'],
    ['copied', 'rolled back'],
    ['verified', 'rolled back'],
    ['switched', 'rolled forward'],
    ['source_dropped', 'rolled forward'],
  ])('a rename interrupted at %s', (point, outcome) => {
    let restarted: TestApp;
    let org: OrgFixture;
    const newNameOf = (o: OrgFixture) => `${o.name} Next`;

    beforeAll(async () => {
      const result = await interruptAndRestart(
        'rename',
        point,
        (first, o) =>
          first.app.get(RenameOrganizationOperation).run(new Types.ObjectId(o!.id), newNameOf(o!)),
        seededOrg,
      );
      restarted = result.restarted;
      org = result.org!;
    });
    afterAll(async () => {
      await restarted.close();
    });

    it(`is ${outcome} at start-up: one complete database, agreeing with the master record`, async () => {
      const forward = outcome === 'rolled forward';
      const liveName = forward ? newNameOf(org) : org.name;
      const goneName = forward ? org.name : newNameOf(org);
      const databases = await tenantDatabases(restarted.master);
      expect(databases).toContain(dbNameOf(liveName));
      expect(databases).not.toContain(dbNameOf(goneName));
      const snapshot = await tenantSnapshot(restarted, dbNameOf(liveName));
      expect(snapshot.counts).toMatchObject({ members: 250, projects: 40, settings: 1 });
      expect(snapshot.memberIndexes).toEqual(['_id_', 'email_unique']);

      const api = apiClient(restarted);
      const owner = await api.loginAs(org.email, PASSWORD);
      const view = await owner.getOrg(liveName).expect(200);
      expect(view.body.database_name).toBe(dbNameOf(liveName));
      await api.getOrg(goneName).expect(404);
    });

    it('leaves the organization unlocked and the other name free', async () => {
      const forward = outcome === 'rolled forward';
      const goneName = forward ? org.name : newNameOf(org);
      const api = apiClient(restarted);
      await api.createOrg({ ...newOrgInput(), organization_name: goneName }).expect(201);
      const owner = await api.loginAs(org.email, PASSWORD);
      await owner.rename(`${org.name} Final`).expect(200);
    });
  });

  describe.each(['recorded', 'tenant_dropped', 'admins_removed', 'slug_released'])(
    'a delete interrupted at %s',
    (point) => {
      it('is finished at start-up: record, admins and database gone, name reusable', async () => {
        const { restarted, org } = await interruptAndRestart(
          'delete',
          point,
          (first, o) => first.app.get(DeleteOrganizationOperation).run(new Types.ObjectId(o!.id)),
          seededOrg,
        );
        try {
          expect(await tenantDatabases(restarted.master)).not.toContain(dbNameOf(org!.name));
          const api = apiClient(restarted);
          await api.getOrg(org!.name).expect(404);
          await api.login(org!.email, PASSWORD).expect(401);
          await api
            .createOrg({ organization_name: org!.name, email: org!.email, password: PASSWORD })
            .expect(201);
        } finally {
          await restarted.close();
        }
      });
    },
  );

  describe.each(['recorded', 'slug_reserved', 'admin_created', 'tenant_initialised'])(
    'a create interrupted at %s',
    (point) => {
      it('is rolled back at start-up: no half organization, name and email free', async () => {
        const input = newOrgInput('Half');
        const { restarted } = await interruptAndRestart('create', point, (first) =>
          first.app.get(CreateOrganizationOperation).run({
            name: input.organization_name,
            email: input.email,
            password: input.password,
          }),
        );
        try {
          expect(await tenantDatabases(restarted.master)).not.toContain(
            dbNameOf(input.organization_name),
          );
          const api = apiClient(restarted);
          await api.getOrg(input.organization_name).expect(404);
          await api.login(input.email, input.password).expect(401);
          await api.createOrg(input).expect(201);
        } finally {
          await restarted.close();
        }
      });
    },
  );
});
