import { SuperadminBootstrap } from '../src/admins/superadmin.bootstrap';
import { bearer, createOrg, newOrgInput, PASSWORD } from './utils/fixtures';
import { createTestApp, uniqueSuffix, type TestApp } from './utils/test-app';

const SUPERADMIN = {
  email: `Root-${uniqueSuffix()}@Example.test`,
  password: 'operator passphrase 1',
};

async function superToken(t: TestApp): Promise<string> {
  const res = await t
    .http()
    .post('/admin/login')
    .send({ email: SUPERADMIN.email, password: SUPERADMIN.password })
    .expect(200);
  expect(res.body.organization).toBeNull();
  expect(res.body.admin.role).toBe('superadmin');
  return res.body.access_token as string;
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
      await t.master.db!.dropDatabase();
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
      await superToken(t);
    });

    it('lets only the super admin list organizations, paginated and filtered by prefix', async () => {
      const prefix = `Zeta${uniqueSuffix()}`;
      for (let i = 0; i < 5; i += 1) {
        await t
          .http()
          .post('/org/create')
          .send({ ...newOrgInput(), organization_name: `${prefix} ${i}` })
          .expect(201);
      }
      const token = await superToken(t);
      const seen: string[] = [];
      let after: string | null = null;
      let pages = 0;
      do {
        const query: Record<string, string | number> = { q: prefix.toLowerCase(), limit: 2 };
        if (after) query.after = after;
        const page = await t.http().get('/org/list').query(query).set(bearer(token)).expect(200);
        seen.push(
          ...page.body.items.map((o: { organization_name: string }) => o.organization_name),
        );
        after = page.body.next;
        pages += 1;
      } while (after && pages < 10);
      expect(pages).toBe(3);
      expect(seen).toEqual([0, 1, 2, 3, 4].map((i) => `${prefix} ${i}`));

      const owner = await createOrg(t);
      const denied = await t.http().get('/org/list').set(bearer(owner.token)).expect(403);
      expect(denied.body.code).toBe('FORBIDDEN');
      await t.http().get('/org/list').expect(401);
    });

    it('lets the super admin delete any organization, and nothing else of theirs', async () => {
      const org = await createOrg(t);
      const token = await superToken(t);
      await t
        .http()
        .put('/org/update')
        .set(bearer(token))
        .send({ new_organization_name: 'Nope Org' })
        .expect(403);
      await t.http().get('/org/members').set(bearer(token)).expect(403);
      await t
        .http()
        .delete('/org/delete')
        .query({ organization_name: org.name })
        .set(bearer(token))
        .expect(200);
      await t.http().get('/org/get').query({ organization_name: org.name }).expect(404);
    });

    it('records state changes and logins with actor, address and request id', async () => {
      const org = await createOrg(t);
      const as = bearer(org.token);
      await t
        .http()
        .post('/org/members')
        .set(as)
        .send({ email: 'a@example.test', name: 'A' })
        .expect(201);
      await t
        .http()
        .post('/org/admins')
        .set(as)
        .send({ email: `adm-${uniqueSuffix()}@example.test`, password: PASSWORD, role: 'admin' })
        .expect(201);
      await t
        .http()
        .post('/admin/login')
        .set('X-Request-Id', 'audit-login-1')
        .send({ email: org.email, password: 'wrong password!' })
        .expect(401);
      await t
        .http()
        .put('/org/update')
        .set(as)
        .send({ new_organization_name: `${org.name} Two` })
        .expect(200);

      const trail = await t.http().get('/org/audit').query({ limit: 100 }).set(as).expect(200);
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
      const all = await t
        .http()
        .get('/org/audit')
        .query({ limit: 100 })
        .set(bearer(await superToken(t)))
        .expect(200);
      const failed = all.body.items.find(
        (e: { request_id: string }) => e.request_id === 'audit-login-1',
      );
      expect(failed).toMatchObject({ action: 'login.failed', actor_email: org.email });
      expect(JSON.stringify(all.body)).not.toContain('wrong password!');
    });

    it('paginates the audit trail and refuses it to admins who are not owners', async () => {
      const org = await createOrg(t);
      const as = bearer(org.token);
      for (let i = 0; i < 4; i += 1) {
        await t
          .http()
          .post('/org/members')
          .set(as)
          .send({ email: `m${i}@example.test`, name: `M${i}` })
          .expect(201);
      }
      const first = await t.http().get('/org/audit').query({ limit: 3 }).set(as).expect(200);
      expect(first.body.items).toHaveLength(3);
      const second = await t
        .http()
        .get('/org/audit')
        .query({ limit: 3, after: first.body.next })
        .set(as)
        .expect(200);
      expect(second.body.items.length).toBeGreaterThanOrEqual(2);
      const ids = [...first.body.items, ...second.body.items].map((e: { id: string }) => e.id);
      expect(new Set(ids).size).toBe(ids.length);

      const email = `plain-${uniqueSuffix()}@example.test`;
      await t
        .http()
        .post('/org/admins')
        .set(as)
        .send({ email, password: PASSWORD, role: 'admin' })
        .expect(201);
      const login = await t
        .http()
        .post('/admin/login')
        .send({ email, password: PASSWORD })
        .expect(200);
      await t.http().get('/org/audit').set(bearer(login.body.access_token)).expect(403);
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
      await t.master.db!.dropDatabase();
      await t.close();
    });

    it('lets only the super admin create organizations', async () => {
      await t.http().post('/org/create').send(newOrgInput()).expect(401);
      const token = await superToken(t);
      const input = newOrgInput();
      await t.http().post('/org/create').set(bearer(token)).send(input).expect(201);
      const login = await t
        .http()
        .post('/admin/login')
        .send({ email: input.email, password: input.password })
        .expect(200);
      const denied = await t
        .http()
        .post('/org/create')
        .set(bearer(login.body.access_token))
        .send(newOrgInput())
        .expect(403);
      expect(denied.body.code).toBe('FORBIDDEN');
    });
  });
});
