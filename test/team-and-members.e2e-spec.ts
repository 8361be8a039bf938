import { apiClient, expectProblem, type AdminSession, type Api } from './utils/api';
import { createOrg, PASSWORD, tenantDbNameOf, type OrgFixture } from './utils/fixtures';
import { createTestApp, uniqueSuffix, type TestApp } from './utils/test-app';

describe('Several admins per organization and the member directory (e2e)', () => {
  let t: TestApp;
  let api: Api;

  beforeAll(async () => {
    t = await createTestApp();
    api = apiClient(t);
  });
  afterAll(async () => {
    await t.close();
  });

  /** Adds an admin with `role` to `org` and logs them in. */
  async function addAdmin(org: OrgFixture, role: 'owner' | 'admin'): Promise<AdminSession> {
    const email = `${role}-${uniqueSuffix()}@example.test`;
    const created = await org.owner.admins.add({ email, password: PASSWORD, role }).expect(201);
    expect(created.body).toEqual({ id: expect.any(String), email, role });
    const session = await api.loginAs(email, PASSWORD);
    expect(session.adminId).toBe(created.body.id);
    return session;
  }

  describe('admins and roles', () => {
    it('lets the owner add admins and any admin list them', async () => {
      const org = await createOrg(t);
      const admin = await addAdmin(org, 'admin');
      const list = await admin.admins.list().expect(200);
      expect(list.body.items).toEqual([
        { id: org.adminId, email: org.email, role: 'owner' },
        { id: admin.adminId, email: admin.email, role: 'admin' },
      ]);
    });

    it('refuses admins what only owners may do, and allows them reading and members', async () => {
      const org = await createOrg(t);
      const admin = await addAdmin(org, 'admin');
      const add = await admin.admins.add({
        email: `x-${uniqueSuffix()}@example.test`,
        password: PASSWORD,
        role: 'admin',
      });
      expectProblem(add, 403, 'FORBIDDEN');
      await admin.admins.setRole(org.adminId, 'admin').expect(403);
      await admin.admins.remove(org.adminId).expect(403);
      await admin.rename(`${org.name} X`).expect(403);
      await admin.deleteOrg(org.name).expect(403);
      const view = await admin.getOrg(org.name).expect(200);
      expect(view.body.database_name).toBe(tenantDbNameOf(org.name));
      await admin.members.add({ email: 'someone@example.test', name: 'Someone' }).expect(201);
    });

    it('lets owners of one organization do nothing to another', async () => {
      const [a, b] = await Promise.all([createOrg(t), createOrg(t)]);
      await a.owner.admins.setRole(b.adminId, 'admin').expect(404);
      await a.owner.admins.remove(b.adminId).expect(404);
      const list = await a.owner.admins.list().expect(200);
      expect(list.body.items.map((x: { id: string }) => x.id)).toEqual([a.adminId]);
      const theirs = await b.owner.admins.list().expect(200);
      expect(theirs.body.items).toEqual([{ id: b.adminId, email: b.email, role: 'owner' }]);
    });

    it('never demotes or removes the last owner (409 LAST_OWNER)', async () => {
      const org = await createOrg(t);
      expectProblem(await org.owner.admins.setRole(org.adminId, 'admin'), 409, 'LAST_OWNER');
      expectProblem(await org.owner.admins.remove(org.adminId), 409, 'LAST_OWNER');
    });

    it('allows demoting an owner while another owner remains, both directions', async () => {
      const org = await createOrg(t);
      const second = await addAdmin(org, 'admin');
      await org.owner.admins.setRole(second.adminId, 'owner').expect(200);
      // Now the second owner demotes the first, who then cannot act as owner any more.
      await second.admins.setRole(org.adminId, 'admin').expect(200);
      await org.owner.rename(`${org.name} Z`).expect(403);
      expectProblem(await second.admins.setRole(second.adminId, 'admin'), 409, 'LAST_OWNER');
    });

    it('keeps one owner when two owners demote each other at once', async () => {
      const org = await createOrg(t);
      const second = await addAdmin(org, 'owner');
      const [r1, r2] = await Promise.all([
        org.owner.admins.setRole(second.adminId, 'admin'),
        second.admins.setRole(org.adminId, 'admin'),
      ]);
      expect([r1.status, r2.status].sort()).toEqual([200, 409]);
      const list = await org.owner.admins.list().expect(200);
      expect(list.body.items.filter((a: { role: string }) => a.role === 'owner')).toHaveLength(1);
    });

    it('revokes the tokens of a removed admin; an admin may remove themself', async () => {
      const org = await createOrg(t);
      const removed = await addAdmin(org, 'admin');
      await org.owner.admins.remove(removed.adminId).expect(204);
      await removed.admins.list().expect(401);
      const leaving = await addAdmin(org, 'admin');
      await leaving.admins.remove(leaving.adminId).expect(204);
      await leaving.admins.list().expect(401);
    });

    it('rejects a malformed admin id with 400 and an unknown one with 404', async () => {
      const org = await createOrg(t);
      await org.owner.admins.setRole('not-an-id', 'admin').expect(400);
      const res = await org.owner.admins.remove('0123456789abcdef01234567');
      expectProblem(res, 404, 'ADMIN_NOT_FOUND');
    });
  });

  describe('members', () => {
    it('creates, reads, updates and deletes a member in the tenant database', async () => {
      const org = await createOrg(t);
      const { members } = org.owner;
      const created = await members
        .add({
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
      const db = t.master.getClient().db(tenantDbNameOf(org.name));
      expect(await db.collection('members').countDocuments({})).toBe(1);

      await members.get(id).expect(200);
      const updated = await members.update(id, { role: 'lead', metadata: {} }).expect(200);
      expect(updated.body).toMatchObject({ role: 'lead', metadata: {}, name: 'Jane Doe' });
      await members.remove(id).expect(204);
      expectProblem(await members.get(id), 404, 'MEMBER_NOT_FOUND');
    });

    it('keeps member emails unique within an organization but not across organizations', async () => {
      const [a, b] = await Promise.all([createOrg(t), createOrg(t)]);
      const member = { email: 'dup@example.test', name: 'Dup' };
      await a.owner.members.add(member).expect(201);
      const dup = await a.owner.members.add({ ...member, email: 'DUP@example.test' });
      expectProblem(dup, 409, 'MEMBER_EMAIL_TAKEN');
      await b.owner.members.add(member).expect(201);
    });

    it("never shows one organization's members to another", async () => {
      const [a, b] = await Promise.all([createOrg(t), createOrg(t)]);
      const created = await a.owner.members
        .add({ email: 'secret@example.test', name: 'S' })
        .expect(201);
      const id = created.body.id as string;
      await b.owner.members.get(id).expect(404);
      await b.owner.members.update(id, { name: 'X' }).expect(404);
      await b.owner.members.remove(id).expect(404);
      const list = await b.owner.members.list().expect(200);
      expect(list.body.items).toEqual([]);
      const still = await a.owner.members.get(id).expect(200);
      expect(still.body.name).toBe('S');
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
      const res = await org.owner.members.add({ email: 'm@example.test', name: 'M', ...patch });
      expectProblem(res, 400, 'VALIDATION_FAILED');
    });

    it('paginates across several pages in a stable order with a next cursor', async () => {
      const org = await createOrg(t);
      const { members } = org.owner;
      const ids: string[] = [];
      for (let i = 0; i < 23; i += 1) {
        const res = await members.add({ email: `p${i}@example.test`, name: `P${i}` }).expect(201);
        ids.push(res.body.id);
      }
      const seen: string[] = [];
      let after: string | null = null;
      let pages = 0;
      do {
        const query: Record<string, string | number> = { limit: 10 };
        if (after) query.after = after;
        const page = await members.list(query).expect(200);
        expect(page.body.items.length).toBeLessThanOrEqual(10);
        seen.push(...page.body.items.map((m: { id: string }) => m.id));
        after = page.body.next;
        pages += 1;
      } while (after && pages < 10);
      expect(pages).toBe(3);
      expect(seen).toEqual(ids);
      await members.list({ limit: 101 }).expect(400);
      await members.list({ limit: 0 }).expect(400);
      await members.list({ after: '{"$gt":""}' }).expect(400);
    });

    it('keeps every member, with the same ids, through a rename', async () => {
      const org = await createOrg(t);
      const { members } = org.owner;
      const before: string[] = [];
      for (let i = 0; i < 15; i += 1) {
        const res = await members.add({ email: `r${i}@example.test`, name: `R${i}` }).expect(201);
        before.push(res.body.id);
      }
      const newName = `${org.name} Renamed`;
      const renamed = await org.owner.rename(newName).expect(200);
      expect(renamed.body.database_name).toBe(tenantDbNameOf(newName));
      const after = await members.list({ limit: 100 }).expect(200);
      expect(after.body.items.map((m: { id: string }) => m.id)).toEqual(before);
      // The unique email index came along too.
      const again = await members.add({ email: 'r0@example.test', name: 'Again' });
      expectProblem(again, 409, 'MEMBER_EMAIL_TAKEN');
    });
  });
});
