import { setTimeout as sleep } from 'node:timers/promises';
import { Types } from 'mongoose';
import { AdminsService } from '../src/admins/admins.service';
import { TENANT_META_COLLECTION } from '../src/database/database.constants';
import { MemberSchema } from '../src/members/schemas/member.schema';
import type { Test } from 'supertest';
import { apiClient, expectProblem } from './utils/api';
import { createOrg, PASSWORD, type OrgFixture } from './utils/fixtures';
import { createTestApp, uniqueSuffix, type TestApp } from './utils/test-app';

/**
 * How long a member write spends between its admission and reaching the
 * database: a slow network or a busy server, injected where the service
 * really waits (Mongoose middleware runs inside the write call). Zero
 * outside the races below.
 */
let writeDelayMs: () => number = () => 0;
const slowWrite = async () => {
  const ms = writeDelayMs();
  if (ms > 0) await sleep(ms);
};
MemberSchema.pre('save', slowWrite);
MemberSchema.pre('findOneAndUpdate', slowWrite);
MemberSchema.pre('deleteOne', { document: false, query: true }, slowWrite);

const randomBetween = (min: number, max: number) => min + Math.random() * (max - min);

interface Answer {
  status: number;
  code?: string;
  body: Record<string, unknown>;
}

/** Sends one request `afterMs` from now; the answer is recorded, never thrown. */
async function sendAt(afterMs: number, request: () => Test): Promise<Answer> {
  await sleep(afterMs);
  const res = await request();
  const json = (res.body ?? {}) as Record<string, unknown>;
  return { status: res.status, code: json.code as string | undefined, body: json };
}

const outcome = (a: Answer) => (a.status < 300 ? '2xx' : `${a.status} ${a.code}`);

interface MemberState {
  email: string;
  name: string;
  role: string;
  metadata: Record<string, unknown>;
}

const equal = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

const stateOf = (m: MemberState): MemberState => ({
  email: m.email,
  name: m.name,
  role: m.role,
  metadata: m.metadata,
});

async function addMember(org: OrgFixture, i: number) {
  const res = await org.owner.members
    .add({ email: `seed-${i}-${uniqueSuffix()}@example.test`, name: `Seed ${i}`, metadata: { i } })
    .expect(201);
  return res.body as MemberState & { id: string };
}

async function databaseNameOf(org: OrgFixture): Promise<string> {
  const view = await org.owner.getOrg(org.name).expect(200);
  return view.body.database_name as string;
}

describe('Tenant writes and the operations that move or drop tenant data (e2e)', () => {
  afterEach(() => {
    writeDelayMs = () => 0;
  });

  describe('a member update', () => {
    let t: TestApp;
    beforeAll(async () => (t = await createTestApp()));
    afterAll(async () => {
      await t.close();
    });

    it('stores metadata exactly as acknowledged when only its keys change', async () => {
      // FerretDB 1.24 skips a $set of an embedded document holding the stored
      // values under other keys; the service must not acknowledge that.
      const org = await createOrg(t, 'Keys');
      const seed = await addMember(org, 7);
      const patched = await org.owner.members.update(seed.id, { metadata: { v: 7 } }).expect(200);
      expect(patched.body.metadata).toEqual({ v: 7 });
      const stored = await org.owner.members.get(seed.id).expect(200);
      expect(stored.body.metadata).toEqual({ v: 7 });
    });
  });

  describe('orphan admins (an admin insert that landed after its organization was deleted)', () => {
    const SUPERADMIN = { email: `root-${uniqueSuffix()}@example.test`, password: PASSWORD };
    let t: TestApp;
    beforeAll(
      async () =>
        (t = await createTestApp({
          env: { SUPERADMIN_EMAIL: SUPERADMIN.email, SUPERADMIN_PASSWORD: SUPERADMIN.password },
        })),
    );
    afterAll(async () => {
      await t.close();
    });

    /** Deletes `org`, then lands `count` admin inserts for it, as stalled writers would. */
    async function orphansOf(org: OrgFixture, count = 1): Promise<string[]> {
      await org.owner.deleteOrg(org.name).expect(200);
      const emails = Array.from({ length: count }, () => `late-${uniqueSuffix()}@example.test`);
      await t.master.db!.collection('admins').insertMany(
        emails.map((email) => ({
          email,
          password_hash: 'x',
          organization_id: new Types.ObjectId(org.id),
          role: 'admin',
          credentials_version: 0,
        })),
      );
      return emails;
    }

    it('frees an email an orphan holds when it is used again', async () => {
      const gone = await createOrg(t, 'Gone');
      const [email] = await orphansOf(gone);
      const api = apiClient(t);
      const created = await api
        .createOrg({ organization_name: `Next ${uniqueSuffix()}`, email, password: PASSWORD })
        .expect(201);
      const holders = await t.master.db!.collection('admins').find({ email }).toArray();
      expect(holders.map((a) => String(a.organization_id))).toEqual([created.body.id]);
      // An email held by a live organization's admin stays taken.
      const taken = await api.createOrg({
        organization_name: `Other ${uniqueSuffix()}`,
        email,
        password: PASSWORD,
      });
      expectProblem(taken, 409, 'EMAIL_TAKEN');
    });

    it('lets an admin change their email to one an orphan holds', async () => {
      const [gone, mover] = await Promise.all([createOrg(t, 'Gone'), createOrg(t, 'Mover')]);
      const [email] = await orphansOf(gone);
      await mover.owner.update({ email, current_password: PASSWORD }).expect(200);
      const holders = await t.master.db!.collection('admins').find({ email }).toArray();
      expect(holders.map((a) => String(a._id))).toEqual([mover.adminId]);
    });

    it('sweeps orphans, and only orphans', async () => {
      const live = await createOrg(t, 'Live');
      const [a, b] = await Promise.all([createOrg(t, 'Gone'), createOrg(t, 'Gone')]);
      const orphans = [...(await orphansOf(a, 2)), ...(await orphansOf(b))];
      const admins = t.master.db!.collection('admins');
      const before = await admins.countDocuments({});
      expect(await t.app.get(AdminsService).deleteOrphans()).toBeGreaterThanOrEqual(3);
      expect(await admins.countDocuments({ email: { $in: orphans } })).toBe(0);
      expect(await admins.countDocuments({})).toBeLessThanOrEqual(before - 3);
      expect(await admins.countDocuments({ email: SUPERADMIN.email })).toBe(1);
      expect(await admins.countDocuments({ organization_id: new Types.ObjectId(live.id) })).toBe(1);
      expect(await t.app.get(AdminsService).deleteOrphans()).toBe(0);
    });
  });

  describe('a delete racing member writes', () => {
    let t: TestApp;
    // Long enough that no write of this race outlives its intent: each one is
    // either refused or drained before the drop, so none may survive it.
    beforeAll(async () => (t = await createTestApp({ env: { TENANT_WRITE_DRAIN_MS: '3000' } })));
    afterAll(async () => {
      await t.close();
    });

    it('leaves nothing of the organization behind, and its name and email are free at once', async () => {
      const org = await createOrg(t, 'Doomed');
      const oldId = new Types.ObjectId(org.id);
      const databaseName = await databaseNameOf(org);
      const seeds = await Promise.all(Array.from({ length: 40 }, (_, i) => addMember(org, i)));
      const { members } = org.owner;

      // 60 member writes (20 creates, 20 updates, 20 deletes) and 5 admin
      // additions, spread over 300 ms, each slowed by up to 300 ms between
      // its admission and the database; the delete starts 100 ms in.
      writeDelayMs = () => randomBetween(0, 300);
      const writes: Array<Promise<Answer>> = [];
      for (let i = 0; i < 20; i += 1) {
        const email = `late-${i}-${uniqueSuffix()}@example.test`;
        writes.push(
          sendAt(i * 15, () => members.add({ email, name: `Late ${i}` })),
          sendAt(i * 15 + 5, () => members.update(seeds[i].id, { name: `Updated ${i}` })),
          sendAt(i * 15 + 10, () => members.remove(seeds[20 + i].id)),
        );
      }
      const adminEmails = Array.from({ length: 5 }, (_, i) => `ops-${i}-${uniqueSuffix()}@x.test`);
      adminEmails.forEach((email, i) =>
        writes.push(
          sendAt(i * 60, () => org.owner.admins.add({ email, password: PASSWORD, role: 'admin' })),
        ),
      );
      const deleted = await sendAt(100, () =>
        t
          .http()
          .delete('/org/delete')
          .set('Authorization', `Bearer ${org.token}`)
          .send({ organization_name: org.name }),
      );
      expect(outcome(deleted)).toBe('2xx');

      // The same name and owner email, immediately: nothing of the old
      // organization (a database, an admin, a reservation) may stand in the way.
      const api = apiClient(t);
      const again = await api.createOrg({
        organization_name: org.name,
        email: org.email,
        password: PASSWORD,
      });
      expect(again.status).toBe(201);
      const newId = new Types.ObjectId(again.body.id as string);
      // Writes with the old token after the delete answered: refused, and harmless.
      writes.push(
        sendAt(0, () =>
          members.add({ email: `after-${uniqueSuffix()}@example.test`, name: 'After' }),
        ),
      );

      const answers = await Promise.all(writes);
      // A write either was refused (its organization busy or gone), or was
      // answered 2xx, or (had it outlived its intent) 503 WRITE_OUTCOME_UNKNOWN.
      // Every 2xx write happened before the drop, so it went with the
      // organization: none may be found anywhere below.
      const allowed = ['2xx', '401 UNAUTHORIZED', '404 ORG_NOT_FOUND', '409 ORG_BUSY'];
      allowed.push('503 WRITE_OUTCOME_UNKNOWN');
      expect(answers.map(outcome).filter((o) => !allowed.includes(o))).toEqual([]);
      expect(outcome(answers[answers.length - 1])).toBe('401 UNAUTHORIZED');
      // Let any write still on its way land before looking.
      await sleep(500);

      const master = t.master.db!;
      expect(await master.collection('organizations').findOne({ _id: oldId })).toBeNull();
      expect(await master.collection('admins').countDocuments({ organization_id: oldId })).toBe(0);
      expect(
        await master.collection('admins').countDocuments({ email: { $in: adminEmails } }),
      ).toBe(0);
      expect(
        await master.collection('organization_slugs').countDocuments({ organization_id: oldId }),
      ).toBe(0);
      expect(
        await master.collection('tenant_write_intents').countDocuments({ organization_id: oldId }),
      ).toBe(0);

      // The database name now belongs to the new organization, which holds
      // none of the old members.
      const tenant = t.master.getClient().db(databaseName);
      const meta = await tenant.collection(TENANT_META_COLLECTION).findOne({});
      expect(String(meta?.organization_id)).toBe(String(newId));
      expect(await tenant.collection('members').countDocuments({})).toBe(0);
      const owner = await api.loginAs(org.email, PASSWORD);
      const list = await owner.members.list().expect(200);
      expect(list.body.items).toEqual([]);
    });
  });

  describe('a rename racing member writes', () => {
    const DRAIN_MS = 500;
    let t: TestApp;
    beforeAll(
      async () => (t = await createTestApp({ env: { TENANT_WRITE_DRAIN_MS: String(DRAIN_MS) } })),
    );
    afterAll(async () => {
      await t.close();
    });

    it('carries every write it acknowledged, exactly as acknowledged, into the renamed database', async () => {
      const org = await createOrg(t, 'Mover');
      const oldDatabase = await databaseNameOf(org);
      // One at a time: with intents this short, a burst would be refused as busy.
      const seeds: Array<MemberState & { id: string }> = [];
      for (let i = 0; i < 40; i += 1) seeds.push(await addMember(org, i));
      const { members } = org.owner;
      const newName = `${org.name} Moved`;

      // Some writes stall longer than their intent lives (DRAIN_MS): those
      // may be cut off by the rename, but then must not be acknowledged.
      writeDelayMs = () => randomBetween(0, 3 * DRAIN_MS);
      const creates = Array.from({ length: 20 }, (_, i) => ({
        email: `new-${i}-${uniqueSuffix()}@example.test`,
        name: `New ${i}`,
        metadata: { i },
      }));
      const updates = seeds
        .slice(0, 20)
        .map((_, i) => ({ name: `Updated ${i}`, metadata: { i, updated: true } }));
      const deletes = seeds.slice(20);
      const created: Array<Promise<Answer>> = [];
      const updated: Array<Promise<Answer>> = [];
      const removed: Array<Promise<Answer>> = [];
      for (let i = 0; i < 20; i += 1) {
        created.push(sendAt(i * 30, () => members.add(creates[i])));
        updated.push(sendAt(i * 30 + 10, () => members.update(seeds[i].id, updates[i])));
        removed.push(sendAt(i * 30 + 20, () => members.remove(deletes[i].id)));
      }
      const renamed = await sendAt(150, () => org.owner.rename(newName));
      // A write stalled past its intent can land in the source during the
      // copy; verification then catches it and the rename is refused whole
      // (409 ORG_BUSY, nothing moved). Either way every acknowledged write
      // must be in the live database.
      expect(['2xx', '409 ORG_BUSY']).toContain(outcome(renamed));
      const newDatabase =
        renamed.status === 200 ? (renamed.body.database_name as string) : oldDatabase;
      const [createAnswers, updateAnswers, removeAnswers] = await Promise.all([
        Promise.all(created),
        Promise.all(updated),
        Promise.all(removed),
      ]);
      // Let any write still on its way land before looking.
      await sleep(3 * DRAIN_MS);

      const allowed = ['2xx', '409 ORG_BUSY', '503 WRITE_OUTCOME_UNKNOWN'];
      const answers = [...createAnswers, ...updateAnswers, ...removeAnswers];
      expect(answers.map(outcome).filter((o) => !allowed.includes(o))).toEqual([]);
      // The race really raced: some writes got in before the rename, some not.
      expect(answers.filter((a) => a.status < 300).length).toBeGreaterThan(0);
      expect(answers.filter((a) => a.status >= 300).length).toBeGreaterThan(0);

      const docs = await t.master
        .getClient()
        .db(newDatabase)
        .collection<MemberState & { _id: Types.ObjectId }>('members')
        .find({})
        .toArray();
      const byId = new Map(docs.map((d) => [String(d._id), stateOf(d)]));
      const byEmail = new Map(docs.map((d) => [d.email, String(d._id)]));
      const wrong: string[] = [];
      const check = (what: string, ok: boolean, now: unknown) =>
        ok || wrong.push(`${what}, now ${JSON.stringify(now ?? null)}`);
      // 2xx: reflected exactly as answered. 409: refused before writing, so
      // unchanged. 503: either.
      createAnswers.forEach((a, i) => {
        const id = byEmail.get(creates[i].email);
        const as = `create ${i} answered ${outcome(a)}`;
        if (a.status === 201) {
          const now = byId.get(String(a.body.id));
          check(as, id === a.body.id && equal(now, stateOf(a.body as never)), now);
        } else if (a.status === 409) check(as, id === undefined, id);
      });
      updateAnswers.forEach((a, i) => {
        const now = byId.get(seeds[i].id);
        const as = `update ${i} answered ${outcome(a)}`;
        const acknowledged = { ...stateOf(seeds[i]), ...updates[i] };
        if (a.status === 200) {
          check(as, equal(now, stateOf(a.body as never)) && equal(now, acknowledged), now);
        } else if (a.status === 409) check(as, equal(now, stateOf(seeds[i])), now);
        else check(as, equal(now, stateOf(seeds[i])) || equal(now, acknowledged), now);
      });
      removeAnswers.forEach((a, i) => {
        const now = byId.get(deletes[i].id);
        const as = `delete ${i} answered ${outcome(a)}`;
        if (a.status === 204) check(as, now === undefined, now);
        else if (a.status === 409) check(as, equal(now, stateOf(deletes[i])), now);
      });
      expect(wrong).toEqual([]);
      // Nothing else is there: 40 seeds, less the deleted, plus the created.
      const known = new Set([...seeds.map((s) => s.id), ...createAnswers.map((a) => a.body.id)]);
      const unknown = docs.filter(
        (d) => !known.has(String(d._id)) && !creates.some((c) => c.email === d.email),
      );
      expect(unknown).toEqual([]);
      // And the service reads the same directory under the new name.
      const listed = await members.list({ limit: 100 }).expect(200);
      expect(listed.body.items).toHaveLength(docs.length);
    });
  });
});
