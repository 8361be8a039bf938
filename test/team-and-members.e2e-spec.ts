import { bearer, createOrg, PASSWORD, type OrgFixture } from './utils/fixtures';
import { createTestApp, uniqueSuffix, type TestApp } from './utils/test-app';

describe('Several admins per organization and the member directory (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.master.db!.dropDatabase();
    await t.close();
  });

  /** Adds an admin with `role` to `org` and logs them in. */
  async function addAdmin(org: OrgFixture, role: 'owner' | 'admin') {
    const email = `${role}-${uniqueSuffix()}@example.test`;
    const created = await t
      .http()
      .post('/org/admins')
      .set(bearer(org.token))
      .send({ email, password: PASSWORD, role })
      .expect(201);
    expect(created.body).toEqual({ id: expect.any(String), email, role });
    const login = await t
      .http()
      .post('/admin/login')
      .send({ email, password: PASSWORD })
      .expect(200);
    return { id: created.body.id as string, email, token: login.body.access_token as string };
  }

  describe('admins and roles', () => {
    it('lets the owner add admins and any admin list them', async () => {
      const org = await createOrg(t);
      const admin = await addAdmin(org, 'admin');
      const list = await t.http().get('/org/admins').set(bearer(admin.token)).expect(200);
      expect(list.body.items).toEqual([
        { id: org.adminId, email: org.email, role: 'owner' },
        { id: admin.id, email: admin.email, role: 'admin' },
      ]);
    });

    it('refuses admins what only owners may do, and allows them reading and members', async () => {
      const org = await createOrg(t);
      const admin = await addAdmin(org, 'admin');
      const as = bearer(admin.token);
      const add = await t
        .http()
        .post('/org/admins')
        .set(as)
        .send({ email: `x-${uniqueSuffix()}@example.test`, password: PASSWORD, role: 'admin' })
        .expect(403);
      expect(add.body.code).toBe('FORBIDDEN');
      await t
        .http()
        .patch(`/org/admins/${org.adminId}`)
        .set(as)
        .send({ role: 'admin' })
        .expect(403);
      await t.http().delete(`/org/admins/${org.adminId}`).set(as).expect(403);
      await t
        .http()
        .put('/org/update')
        .set(as)
        .send({ new_organization_name: `${org.name} X` })
        .expect(403);
      await t
        .http()
        .delete('/org/delete')
        .query({ organization_name: org.name })
        .set(as)
        .expect(403);
      const view = await t
        .http()
        .get('/org/get')
        .query({ organization_name: org.name })
        .set(as)
        .expect(200);
      expect(view.body.database_name).toMatch(/^org_/);
      await t
        .http()
        .post('/org/members')
        .set(as)
        .send({ email: 'someone@example.test', name: 'Someone' })
        .expect(201);
    });

    it('lets owners of one organization do nothing to another', async () => {
      const [a, b] = await Promise.all([createOrg(t), createOrg(t)]);
      await t
        .http()
        .patch(`/org/admins/${b.adminId}`)
        .set(bearer(a.token))
        .send({ role: 'admin' })
        .expect(404);
      await t.http().delete(`/org/admins/${b.adminId}`).set(bearer(a.token)).expect(404);
      const list = await t.http().get('/org/admins').set(bearer(a.token)).expect(200);
      expect(list.body.items.map((x: { id: string }) => x.id)).toEqual([a.adminId]);
    });

    it('never demotes or removes the last owner (409 LAST_OWNER)', async () => {
      const org = await createOrg(t);
      const demote = await t
        .http()
        .patch(`/org/admins/${org.adminId}`)
        .set(bearer(org.token))
        .send({ role: 'admin' })
        .expect(409);
      expect(demote.body.code).toBe('LAST_OWNER');
      const remove = await t
        .http()
        .delete(`/org/admins/${org.adminId}`)
        .set(bearer(org.token))
        .expect(409);
      expect(remove.body.code).toBe('LAST_OWNER');
    });

    it('allows demoting an owner while another owner remains, both directions', async () => {
      const org = await createOrg(t);
      const second = await addAdmin(org, 'admin');
      await t
        .http()
        .patch(`/org/admins/${second.id}`)
        .set(bearer(org.token))
        .send({ role: 'owner' })
        .expect(200);
      // Now the second owner demotes the first, who then cannot act as owner any more.
      await t
        .http()
        .patch(`/org/admins/${org.adminId}`)
        .set(bearer(second.token))
        .send({ role: 'admin' })
        .expect(200);
      await t
        .http()
        .put('/org/update')
        .set(bearer(org.token))
        .send({ new_organization_name: `${org.name} Z` })
        .expect(403);
      const last = await t
        .http()
        .patch(`/org/admins/${second.id}`)
        .set(bearer(second.token))
        .send({ role: 'admin' })
        .expect(409);
      expect(last.body.code).toBe('LAST_OWNER');
    });

    it('keeps one owner when two owners demote each other at once', async () => {
      const org = await createOrg(t);
      const second = await addAdmin(org, 'owner');
      const [r1, r2] = await Promise.all([
        t.http().patch(`/org/admins/${second.id}`).set(bearer(org.token)).send({ role: 'admin' }),
        t
          .http()
          .patch(`/org/admins/${org.adminId}`)
          .set(bearer(second.token))
          .send({ role: 'admin' }),
      ]);
      expect([r1.status, r2.status].sort()).toEqual([200, 409]);
      const list = await t.http().get('/org/admins').set(bearer(org.token)).expect(200);
      expect(list.body.items.filter((a: { role: string }) => a.role === 'owner')).toHaveLength(1);
    });

    it('revokes the tokens of a removed admin; an admin may remove themself', async () => {
      const org = await createOrg(t);
      const removed = await addAdmin(org, 'admin');
      await t.http().delete(`/org/admins/${removed.id}`).set(bearer(org.token)).expect(204);
      await t.http().get('/org/admins').set(bearer(removed.token)).expect(401);
      const leaving = await addAdmin(org, 'admin');
      await t.http().delete(`/org/admins/${leaving.id}`).set(bearer(leaving.token)).expect(204);
      await t.http().get('/org/admins').set(bearer(leaving.token)).expect(401);
    });

    it('rejects a malformed admin id with 400 and an unknown one with 404', async () => {
      const org = await createOrg(t);
      await t
        .http()
        .patch('/org/admins/not-an-id')
        .set(bearer(org.token))
        .send({ role: 'admin' })
        .expect(400);
      const res = await t
        .http()
        .delete('/org/admins/0123456789abcdef01234567')
        .set(bearer(org.token))
        .expect(404);
      expect(res.body.code).toBe('ADMIN_NOT_FOUND');
    });
  });

  describe('members', () => {
    it('creates, reads, updates and deletes a member in the tenant database', async () => {
      const org = await createOrg(t);
      const as = bearer(org.token);
      const created = await t
        .http()
        .post('/org/members')
        .set(as)
        .send({
          email: 'Jane@Example.test',
          name: ' Jane Doe ',
          metadata: { team: 'platform', level: 3, remote: true },
        })
        .expect(201);
      expect(created.body).toEqual({
        id: expect.stringMatching(/^[0-9a-f]{24}$/),
        email: 'jane@example.test',
        name: 'Jane Doe',
        role: 'member',
        metadata: { team: 'platform', level: 3, remote: true },
        created_at: expect.any(String),
        updated_at: expect.any(String),
      });
      const id = created.body.id as string;
      const db = t.master.getClient().db(`org_${org.name.toLowerCase().replace(/ /g, '_')}`);
      expect(await db.collection('members').countDocuments({})).toBe(1);

      await t.http().get(`/org/members/${id}`).set(as).expect(200);
      const updated = await t
        .http()
        .patch(`/org/members/${id}`)
        .set(as)
        .send({ role: 'lead', metadata: {} })
        .expect(200);
      expect(updated.body).toMatchObject({ role: 'lead', metadata: {}, name: 'Jane Doe' });
      await t.http().delete(`/org/members/${id}`).set(as).expect(204);
      const gone = await t.http().get(`/org/members/${id}`).set(as).expect(404);
      expect(gone.body.code).toBe('MEMBER_NOT_FOUND');
    });

    it('keeps member emails unique within an organization but not across organizations', async () => {
      const [a, b] = await Promise.all([createOrg(t), createOrg(t)]);
      const member = { email: 'dup@example.test', name: 'Dup' };
      await t.http().post('/org/members').set(bearer(a.token)).send(member).expect(201);
      const dup = await t
        .http()
        .post('/org/members')
        .set(bearer(a.token))
        .send({ ...member, email: 'DUP@example.test' })
        .expect(409);
      expect(dup.body.code).toBe('MEMBER_EMAIL_TAKEN');
      await t.http().post('/org/members').set(bearer(b.token)).send(member).expect(201);
    });

    it("never shows one organization's members to another", async () => {
      const [a, b] = await Promise.all([createOrg(t), createOrg(t)]);
      const created = await t
        .http()
        .post('/org/members')
        .set(bearer(a.token))
        .send({ email: 'secret@example.test', name: 'S' })
        .expect(201);
      await t.http().get(`/org/members/${created.body.id}`).set(bearer(b.token)).expect(404);
      await t
        .http()
        .patch(`/org/members/${created.body.id}`)
        .set(bearer(b.token))
        .send({ name: 'X' })
        .expect(404);
      await t.http().delete(`/org/members/${created.body.id}`).set(bearer(b.token)).expect(404);
      const list = await t.http().get('/org/members').set(bearer(b.token)).expect(200);
      expect(list.body.items).toEqual([]);
      await t.http().get(`/org/members/${created.body.id}`).set(bearer(a.token)).expect(200);
    });

    it.each([
      ['nested metadata', { metadata: { a: { b: 1 } } }],
      ['an array as metadata', { metadata: [1, 2] }],
      [
        'too many metadata keys',
        { metadata: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, i])) },
      ],
      ['an operator key in metadata', { metadata: { $where: 'x' } }],
      ['metadata over 2 kB', { metadata: { big: 'x'.repeat(2100) } }],
      ['a missing name', { name: undefined }],
      ['a bad email', { email: 'nope' }],
    ])('rejects %s with 400', async (_label, patch) => {
      const org = await createOrg(t);
      const res = await t
        .http()
        .post('/org/members')
        .set(bearer(org.token))
        .send({ email: 'm@example.test', name: 'M', ...patch })
        .expect(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
    });

    it('paginates across several pages in a stable order with a next cursor', async () => {
      const org = await createOrg(t);
      const as = bearer(org.token);
      const ids: string[] = [];
      for (let i = 0; i < 23; i += 1) {
        const res = await t
          .http()
          .post('/org/members')
          .set(as)
          .send({ email: `p${i}@example.test`, name: `P${i}` })
          .expect(201);
        ids.push(res.body.id);
      }
      const seen: string[] = [];
      let after: string | null = null;
      let pages = 0;
      do {
        const query: Record<string, string | number> = { limit: 10 };
        if (after) query.after = after;
        const page = await t.http().get('/org/members').query(query).set(as).expect(200);
        expect(page.body.items.length).toBeLessThanOrEqual(10);
        seen.push(...page.body.items.map((m: { id: string }) => m.id));
        after = page.body.next;
        pages += 1;
      } while (after && pages < 10);
      expect(pages).toBe(3);
      expect(seen).toEqual(ids);
      await t.http().get('/org/members').query({ limit: 101 }).set(as).expect(400);
      await t.http().get('/org/members').query({ limit: 0 }).set(as).expect(400);
      await t.http().get('/org/members').query({ after: '{"$gt":""}' }).set(as).expect(400);
    });

    it('keeps every member, with the same ids, through a rename', async () => {
      const org = await createOrg(t);
      const as = bearer(org.token);
      const before: string[] = [];
      for (let i = 0; i < 15; i += 1) {
        const res = await t
          .http()
          .post('/org/members')
          .set(as)
          .send({ email: `r${i}@example.test`, name: `R${i}` })
          .expect(201);
        before.push(res.body.id);
      }
      const renamed = await t
        .http()
        .put('/org/update')
        .set(as)
        .send({ new_organization_name: `${org.name} Renamed` })
        .expect(200);
      expect(renamed.body.database_name).toMatch(/_renamed$/);
      const after = await t.http().get('/org/members').query({ limit: 100 }).set(as).expect(200);
      expect(after.body.items.map((m: { id: string }) => m.id)).toEqual(before);
      // The unique email index came along too.
      await t
        .http()
        .post('/org/members')
        .set(as)
        .send({ email: 'r0@example.test', name: 'Again' })
        .expect(409);
    });
  });
});
