import { SuperadminBootstrap } from '../src/admins/superadmin.bootstrap';
import { apiClient, expectProblem, type AdminSession } from './utils/api';
import { createOrg, newOrgInput, PASSWORD } from './utils/fixtures';
import { createTestApp, uniqueSuffix, type TestApp } from './utils/test-app';

const SUPERADMIN = {
  email: `Root-${uniqueSuffix()}@Example.test`,
  password: 'operator passphrase 1',
};

/** Logs the super admin in, checking the login describes no organization. */
async function superadmin(t: TestApp): Promise<AdminSession> {
  const session = await apiClient(t).loginAs(SUPERADMIN.email, SUPERADMIN.password);
  expect(session.organization).toBeNull();
  expect(session.role).toBe('superadmin');
  return session;
}

describe('Operators and the audit trail (e2e)', () => {
  describe('with the default public create policy', () => {
    let t: TestApp;

    beforeAll(async () => {
      t = await createTestApp({
        env: { SUPERADMIN_EMAIL: SUPERADMIN.email, SUPERADMIN_PASSWORD: SUPERADMIN.password },
      });
    });
    afterAll(async () => {
      await t.close();
    });

    it('bootstraps the super admin idempotently, with a hashed password', async () => {
      const admins = t.master.db!.collection('admins');
      const stored = await admins.find({ email: SUPERADMIN.email.toLowerCase() }).toArray();
      expect(stored).toHaveLength(1);
      expect(stored[0]).toMatchObject({ role: 'superadmin', organization_id: null });
      expect(stored[0].password_hash).toMatch(/^\$2[aby]\$/);
      expect(JSON.stringify(stored[0])).not.toContain(SUPERADMIN.password);
      // Starting again, even twice at once (two workers), changes nothing. (A
      // second app in this process would replace the process-global passport
      // strategy, so the bootstrap itself is run again instead.)
      const bootstrap = t.app.get(SuperadminBootstrap);
      await Promise.all([bootstrap.onApplicationBootstrap(), bootstrap.onApplicationBootstrap()]);
      expect(await admins.countDocuments({ email: SUPERADMIN.email.toLowerCase() })).toBe(1);
      await superadmin(t);
    });

    it('lets only the super admin list organizations, paginated and filtered by prefix', async () => {
      const prefix = `Zeta${uniqueSuffix()}`;
      for (let i = 0; i < 5; i += 1) {
        await apiClient(t)
          .createOrg({ ...newOrgInput(), organization_name: `${prefix} ${i}` })
          .expect(201);
      }
      const operator = await superadmin(t);
      const seen: string[] = [];
      let after: string | null = null;
      let pages = 0;
      do {
        const query: Record<string, string | number> = { q: prefix.toLowerCase(), limit: 2 };
        if (after) query.after = after;
        const page = await operator.listOrgs(query).expect(200);
        seen.push(
          ...page.body.items.map((o: { organization_name: string }) => o.organization_name),
        );
        after = page.body.next;
        pages += 1;
      } while (after && pages < 10);
      expect(pages).toBe(3);
      expect(seen).toEqual([0, 1, 2, 3, 4].map((i) => `${prefix} ${i}`));

      const owner = await createOrg(t);
      expectProblem(await owner.owner.listOrgs(), 403, 'FORBIDDEN');
      expectProblem(await apiClient(t).listOrgs(), 401, 'UNAUTHORIZED');
    });

    it('lets the super admin delete any organization, and nothing else of theirs', async () => {
      const org = await createOrg(t);
      const operator = await superadmin(t);
      await operator.rename('Nope Org').expect(403);
      await operator.members.list().expect(403);
      await operator.deleteOrg(org.name).expect(200);
      await apiClient(t).getOrg(org.name).expect(404);
    });

    it('records state changes and logins with actor, address and request id', async () => {
      const org = await createOrg(t);
      await org.owner.members.add({ email: 'a@example.test', name: 'A' }).expect(201);
      await org.owner.admins
        .add({ email: `adm-${uniqueSuffix()}@example.test`, password: PASSWORD, role: 'admin' })
        .expect(201);
      await apiClient(t)
        .login(org.email, 'wrong password!')
        .set('X-Request-Id', 'audit-login-1')
        .expect(401);
      await org.owner.rename(`${org.name} Two`).expect(200);

      const trail = await org.owner.audit({ limit: 100 }).expect(200);
      const actions = trail.body.items.map((e: { action: string }) => e.action);
      expect(actions).toEqual([
        'organization.renamed',
        'admin.added',
        'member.added',
        'login.succeeded',
        'organization.created',
      ]);
      const renamed = trail.body.items[0];
      expect(renamed).toMatchObject({
        organization_id: org.id,
        actor_id: org.adminId,
        actor_email: org.email,
        actor_role: 'owner',
        ip: expect.any(String),
        request_id: expect.any(String),
        details: { from: org.name, to: `${org.name} Two` },
      });
      expect(JSON.stringify(trail.body)).not.toContain('wrong password!');

      // The failed login belongs to no organization the owner can see; the operator sees it.
      const all = await (await superadmin(t)).audit({ limit: 100 }).expect(200);
      const failed = all.body.items.find(
        (e: { request_id: string }) => e.request_id === 'audit-login-1',
      );
      expect(failed).toMatchObject({ action: 'login.failed', actor_email: org.email });
      expect(JSON.stringify(all.body)).not.toContain('wrong password!');
    });

    it('paginates the audit trail and refuses it to admins who are not owners', async () => {
      const org = await createOrg(t);
      for (let i = 0; i < 4; i += 1) {
        await org.owner.members.add({ email: `m${i}@example.test`, name: `M${i}` }).expect(201);
      }
      const first = await org.owner.audit({ limit: 3 }).expect(200);
      expect(first.body.items).toHaveLength(3);
      const second = await org.owner.audit({ limit: 3, after: first.body.next }).expect(200);
      expect(second.body.items.length).toBeGreaterThanOrEqual(2);
      const ids = [...first.body.items, ...second.body.items].map((e: { id: string }) => e.id);
      expect(new Set(ids).size).toBe(ids.length);

      const email = `plain-${uniqueSuffix()}@example.test`;
      await org.owner.admins.add({ email, password: PASSWORD, role: 'admin' }).expect(201);
      const admin = await apiClient(t).loginAs(email, PASSWORD);
      expectProblem(await admin.audit(), 403, 'FORBIDDEN');
    });
  });

  describe('with ORG_CREATE_POLICY=superadmin', () => {
    let t: TestApp;

    beforeAll(async () => {
      t = await createTestApp({
        env: {
          SUPERADMIN_EMAIL: SUPERADMIN.email,
          SUPERADMIN_PASSWORD: SUPERADMIN.password,
          ORG_CREATE_POLICY: 'superadmin',
        },
      });
    });
    afterAll(async () => {
      await t.close();
    });

    it('lets only the super admin create organizations', async () => {
      const api = apiClient(t);
      await api.createOrg(newOrgInput()).expect(401);
      const operator = await superadmin(t);
      const input = newOrgInput();
      await operator.createOrg(input).expect(201);
      const owner = await api.loginAs(input.email, input.password);
      expectProblem(await owner.createOrg(newOrgInput()), 403, 'FORBIDDEN');
    });
  });
});
