import { TENANT_META_COLLECTION } from '../src/database/database.constants';
import { MigrationsService } from '../src/migrations/migrations.service';
import { LATEST_TENANT_VERSION } from '../src/migrations/tenant-migrations';
import { apiClient, expectProblem, type Api } from './utils/api';
import { createOrg, newOrgInput } from './utils/fixtures';
import { createTestApp, uniqueSuffix, type TestApp } from './utils/test-app';

describe('Idempotent create and tenant migrations (e2e)', () => {
  let t: TestApp;
  let api: Api;

  beforeAll(async () => {
    t = await createTestApp();
    api = apiClient(t);
  });
  afterAll(async () => {
    await t.close();
  });

  const createWithKey = (key: string, body: Parameters<Api['createOrg']>[0]) =>
    api.createOrg(body).set('Idempotency-Key', key);

  const countOrgs = (name: string) =>
    t.master.db!.collection('organizations').countDocuments({ name });

  describe('Idempotency-Key on POST /org/create', () => {
    it('replays the first response for the same key and body', async () => {
      const key = `key-${uniqueSuffix()}`;
      const input = newOrgInput();
      const first = await createWithKey(key, input).expect(201);
      expect(first.headers['idempotent-replayed']).toBeUndefined();
      const again = await createWithKey(key, {
        password: input.password,
        email: input.email,
        organization_name: input.organization_name,
      }).expect(201);
      expect(again.body).toEqual(first.body);
      expect(await countOrgs(input.organization_name)).toBe(1);
    });

    it('answers 422 when the key comes back with a different body', async () => {
      const key = `key-${uniqueSuffix()}`;
      await createWithKey(key, newOrgInput()).expect(201);
      const res = await createWithKey(key, newOrgInput());
      expectProblem(res, 422, 'IDEMPOTENCY_KEY_REUSED');
    });

    it('creates one organization for concurrent retries with one key', async () => {
      const key = `key-${uniqueSuffix()}`;
      const input = newOrgInput();
      const results = await Promise.all(Array.from({ length: 6 }, () => createWithKey(key, input)));
      expect(results.map((r) => r.status)).toEqual(Array(6).fill(201));
      expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
      expect(await countOrgs(input.organization_name)).toBe(1);
    });

    it('replays a client error too, and rejects a malformed key with 400', async () => {
      const existing = await createOrg(t);
      const key = `key-${uniqueSuffix()}`;
      const body = { ...newOrgInput(), organization_name: existing.name };
      const first = await createWithKey(key, body);
      expectProblem(first, 409, 'ORG_NAME_TAKEN');
      const again = await createWithKey(key, body);
      expectProblem(again, 409, 'ORG_NAME_TAKEN');
      await createWithKey('has space', newOrgInput()).expect(400);
    });
  });

  describe('tenant migrations', () => {
    it('brings many old tenants to the latest version, and a re-run changes nothing', async () => {
      const orgs = [];
      for (let i = 0; i < 12; i += 1) orgs.push(await createOrg(t, 'Legacy'));
      const client = t.master.getClient();
      // Make them look like tenants created before migration 2 existed.
      for (const org of orgs) {
        const view = await org.owner.getOrg(org.name).expect(200);
        const db = client.db(view.body.database_name);
        await db.collection('members').dropIndex('email_unique');
        await db.collection(TENANT_META_COLLECTION).updateOne({}, { $set: { schema_version: 1 } });
      }
      const migrations = t.app.get(MigrationsService);
      const progress: number[] = [];
      const report = await migrations.migrateAll((p) => progress.push(p.done));
      expect(report.tenants.migrated).toBe(12);
      expect(report.tenants.skipped).toEqual([]);
      expect(progress[progress.length - 1]).toBe(report.tenants.total);

      for (const org of orgs) {
        const view = await org.owner.getOrg(org.name).expect(200);
        const db = client.db(view.body.database_name);
        expect(await migrations.tenantVersion(db)).toBe(LATEST_TENANT_VERSION);
        const indexes = (await db.collection('members').listIndexes().toArray()).map(
          (ix) => ix.name,
        );
        expect(indexes).toContain('email_unique');
      }

      const rerun = await migrations.migrateAll();
      expect(rerun.tenants.migrated).toBe(0);
      expect(rerun.tenants.upToDate).toBe(rerun.tenants.total);
      expect(rerun.master.from).toBe(rerun.master.to);
    });
  });
});
