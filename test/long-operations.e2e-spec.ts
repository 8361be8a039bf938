import { setTimeout as sleep } from 'node:timers/promises';
import { Types } from 'mongoose';
import { TENANT_META_COLLECTION } from '../src/database/database.constants';
import { OperationHooks } from '../src/organizations/lifecycle/operation-hooks';
import type { OperationType } from '../src/organizations/schemas/organization.schema';
import { slugify } from '../src/organizations/organization-name';
import { apiClient, expectProblem } from './utils/api';
import { bearer, createOrg, PASSWORD, type OrgFixture } from './utils/fixtures';
import { FreezingHooks } from './utils/freezing-hooks';
import { createTestApp, uniqueMasterDb, uniqueSuffix, type TestApp } from './utils/test-app';

const SUPERADMIN = { email: 'operator@long-ops.test', password: 'operator passphrase 123' };
const WITH_OPERATOR = {
  SUPERADMIN_EMAIL: SUPERADMIN.email,
  SUPERADMIN_PASSWORD: SUPERADMIN.password,
};

/** Slows every write of a rename's copy, so a small tenant copies for seconds. */
class SlowCopyHooks extends OperationHooks {
  constructor(private readonly delayMs: number) {
    super();
  }

  override reached(type: OperationType, point: string): Promise<void> {
    return type === 'rename' && point === 'copy_write' ? sleep(this.delayMs) : Promise.resolve();
  }
}

const dbNameOf = (name: string) => `org_${slugify(name)}`;

async function superToken(t: TestApp): Promise<string> {
  const res = await t.http().post('/admin/login').send(SUPERADMIN).expect(200);
  return res.body.access_token as string;
}

interface OperationBody {
  id: string;
  type: string;
  organization_name: string;
  status: 'running' | 'succeeded' | 'failed';
  progress: { documents_copied: number; documents_total: number };
  started_at: string;
  finished_at: string | null;
  result?: Record<string, unknown>;
  error?: Record<string, unknown>;
}

/** Polls the operation until it ends; returns every state seen, the last one ended. */
async function pollUntilDone(
  t: TestApp,
  location: string,
  token: string,
): Promise<OperationBody[]> {
  const seen: OperationBody[] = [];
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const res = await t.http().get(location).set(bearer(token)).expect(200);
    expect(res.headers['cache-control']).toBe('no-store');
    seen.push(res.body as OperationBody);
    if (res.body.status !== 'running') return seen;
    await sleep(100);
  }
  throw new Error(`Operation at ${location} still running after 30 s`);
}

function renameAsync(t: TestApp, org: OrgFixture, newName: string) {
  return t
    .http()
    .put('/org/update')
    .set(bearer(org.token))
    .set('Prefer', 'respond-async')
    .send({ new_organization_name: newName });
}

describe('Long operations: 202 Accepted and GET /org/operations/{id} (e2e)', () => {
  describe('with the default budget', () => {
    let t: TestApp;
    beforeAll(async () => (t = await createTestApp({ env: WITH_OPERATOR })));
    afterAll(async () => {
      await t.master.db!.dropDatabase();
      await t.close();
    });

    it('answers a rename with Prefer: respond-async 202, and the operation ends with the owner view under the new name', async () => {
      const org = await createOrg(t, 'Async');
      const newName = `${org.name} Renamed`;
      const res = await renameAsync(t, org, newName).expect(202);
      expect(res.headers.location).toBe(`/org/operations/${res.body.id}`);
      expect(res.headers['preference-applied']).toBe('respond-async');
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toMatchObject({
        type: 'rename',
        organization_name: org.name,
        status: 'running',
        finished_at: null,
      });

      const seen = await pollUntilDone(t, res.headers.location, org.token);
      const done = seen.at(-1)!;
      expect(done.status).toBe('succeeded');
      expect(done.finished_at).not.toBeNull();
      expect(done.error).toBeUndefined();
      const view = await t
        .http()
        .get('/org/get')
        .query({ organization_name: newName })
        .set(bearer(org.token))
        .expect(200);
      const { updated_at: _at, ...expected } = view.body as Record<string, unknown>;
      expect(done.result).toMatchObject(expected);
      expect(done.result).toMatchObject({
        id: org.id,
        organization_name: newName,
        database_name: dbNameOf(newName),
        admin: { id: org.adminId, email: org.email },
      });
    });

    it('shows an operation running until its organization is released, so a client told "succeeded" finds it free', async () => {
      const org = await createOrg(t, 'Released');
      const res = await renameAsync(t, org, `${org.name} Later`).expect(202);
      const done = (await pollUntilDone(t, res.headers.location, org.token)).at(-1)!;
      expect(done.status).toBe('succeeded');
      // The moment between the outcome's write and the record's release, held open.
      const organizations = t.master.db!.collection('organizations');
      const id = new Types.ObjectId(org.id);
      await organizations.updateOne(
        { _id: id },
        {
          $set: {
            pending: {
              op_id: res.body.id,
              type: 'rename',
              step: 'dropping_source',
              fence: 1,
              started_at: new Date(),
              lease_until: new Date(Date.now() + 3_600_000),
            },
          },
        },
      );
      const busy = await t.http().get(res.headers.location).set(bearer(org.token)).expect(200);
      expect(busy.body).toMatchObject({ status: 'running', finished_at: null });
      expect(busy.body.result).toBeUndefined();
      await organizations.updateOne({ _id: id }, { $set: { pending: null } });
      const free = await t.http().get(res.headers.location).set(bearer(org.token)).expect(200);
      expect(free.body).toEqual(done);
    });

    it('still answers a small rename synchronously with 200 and the owner view', async () => {
      const org = await createOrg(t, 'Sync');
      const newName = `${org.name} Renamed`;
      const res = await t
        .http()
        .put('/org/update')
        .set(bearer(org.token))
        .send({ new_organization_name: newName })
        .expect(200);
      expect(res.headers.location).toBeUndefined();
      expect(res.body).toMatchObject({
        organization_name: newName,
        database_name: dbNameOf(newName),
      });
    });

    it('records a rename that fails after it was accepted as failed, with the ORG_NAME_TAKEN problem', async () => {
      const org = await createOrg(t, 'Loser');
      const other = await createOrg(t, 'Winner');
      const res = await renameAsync(t, org, other.name).expect(202);
      const done = (await pollUntilDone(t, res.headers.location, org.token)).at(-1)!;
      expect(done.status).toBe('failed');
      expect(done.result).toBeUndefined();
      expect(done.error).toMatchObject({
        status: 409,
        code: 'ORG_NAME_TAKEN',
        type: 'urn:problem-type:org-name-taken',
        instance: '/org/update',
      });
      // Rolled back: the organization keeps its name and database, unlocked.
      const view = await t
        .http()
        .get('/org/get')
        .query({ organization_name: org.name })
        .set(bearer(org.token))
        .expect(200);
      expect(view.body.database_name).toBe(dbNameOf(org.name));
    });

    it('answers the same failure within the budget synchronously with 409 ORG_NAME_TAKEN', async () => {
      const org = await createOrg(t, 'Loser');
      const other = await createOrg(t, 'Winner');
      const res = await t
        .http()
        .put('/org/update')
        .set(bearer(org.token))
        .send({ new_organization_name: other.name })
        .expect(409);
      expect(res.body.code).toBe('ORG_NAME_TAKEN');
    });

    it('answers a failed precondition itself, not with 202', async () => {
      const org = await createOrg(t, 'Guarded');
      const res = await t
        .http()
        .put('/org/update')
        .set(bearer(org.token))
        .set('Prefer', 'respond-async')
        .send({ organization_name: 'Somebody Else', new_organization_name: `${org.name} X` })
        .expect(403);
      expect(res.body.code).toBe('FORBIDDEN');
    });

    it('deletes asynchronously: 202, and the super admin sees it succeed with the delete answer', async () => {
      const org = await createOrg(t, 'Doomed');
      const res = await t
        .http()
        .delete('/org/delete')
        .query({ organization_name: org.name })
        .set(bearer(org.token))
        .set('Prefer', 'respond-async')
        .expect(202);
      expect(res.body).toMatchObject({ type: 'delete', organization_name: org.name });
      const done = (await pollUntilDone(t, res.headers.location, await superToken(t))).at(-1)!;
      expect(done).toMatchObject({
        status: 'succeeded',
        result: { organization_name: org.name, deleted: true },
      });
      await t.http().get('/org/get').query({ organization_name: org.name }).expect(404);
    });

    it("lets the organization's admins follow its delete with the tokens it ended, and nobody else", async () => {
      const org = await createOrg(t, 'Followed');
      const stranger = await createOrg(t, 'Onlooker');
      const api = apiClient(t);
      const adminOf = async (role: string) => {
        const email = `${role}-${uniqueSuffix()}@example.test`;
        const added = await org.owner.admins.add({ email, password: PASSWORD, role }).expect(201);
        return { id: added.body.id as string, session: await api.loginAs(email, PASSWORD) };
      };
      const second = await adminOf('admin');
      // Removed before the delete began: not one of its admins.
      const removed = await adminOf('admin');
      await org.owner.admins.remove(removed.id).expect(204);
      const loggedOut = await api.loginAs(org.email, PASSWORD);
      await loggedOut.logout().expect(204);

      const res = await org.owner.deleteOrg(org.name).set('Prefer', 'respond-async').expect(202);
      const location = res.headers.location;
      const done = (await pollUntilDone(t, location, org.token)).at(-1)!;
      expect(done).toMatchObject({
        status: 'succeeded',
        result: { organization_name: org.name, deleted: true },
      });
      const seenBySecond = await t.http().get(location).set(bearer(second.session.token));
      expect({ status: seenBySecond.status, body: seenBySecond.body }).toEqual({
        status: 200,
        body: done,
      });

      // The same tokens open nothing else.
      expectProblem(await org.owner.getOrg(org.name), 401, 'UNAUTHORIZED');
      expectProblem(await org.owner.members.list(), 401, 'UNAUTHORIZED');
      expectProblem(await second.session.admins.list(), 401, 'UNAUTHORIZED');
      const asWho = (token: string) => t.http().get(location).set(bearer(token));
      expectProblem(await asWho(removed.session.token), 404, 'OPERATION_NOT_FOUND');
      expectProblem(await asWho(stranger.token), 404, 'OPERATION_NOT_FOUND');
      expectProblem(await asWho(loggedOut.token), 401, 'UNAUTHORIZED');
      // Such a token can still be given up, and then reads nothing.
      await second.session.logout().expect(204);
      expectProblem(await asWho(second.session.token), 401, 'UNAUTHORIZED');
      await asWho(org.token).expect(200);
    });

    it('shows an operation to its organization and the super admin only: 404 for another organization, 401 anonymous', async () => {
      const org = await createOrg(t, 'Private');
      const stranger = await createOrg(t, 'Stranger');
      const res = await renameAsync(t, org, `${org.name} Moved`).expect(202);
      const location = res.headers.location;
      await pollUntilDone(t, location, org.token);

      const hidden = await t.http().get(location).set(bearer(stranger.token)).expect(404);
      expect(hidden.body.code).toBe('OPERATION_NOT_FOUND');
      const unknown = await t
        .http()
        .get('/org/operations/00000000-0000-4000-8000-000000000000')
        .set(bearer(stranger.token))
        .expect(404);
      // Another organization's operation and no operation look the same.
      expect(unknown.body.code).toBe(hidden.body.code);
      expect(unknown.body.detail).toBe(hidden.body.detail);
      await t.http().get(location).expect(401);
      const operator = await t
        .http()
        .get(location)
        .set(bearer(await superToken(t)))
        .expect(200);
      expect(operator.body.status).toBe('succeeded');
    });
  });

  describe('with a small budget and a slow copy', () => {
    let t: TestApp;
    beforeAll(
      async () =>
        (t = await createTestApp({
          hooks: new SlowCopyHooks(120),
          env: { SYNC_OPERATION_BUDGET_MS: '200', COPY_BATCH_SIZE: '100' },
        })),
    );
    afterAll(async () => {
      await t.master.db!.dropDatabase();
      await t.close();
    });

    it('answers 202 without Prefer once the budget is spent, and the progress moves while polled', async () => {
      const org = await createOrg(t, 'Large');
      const tenant = t.master.getClient().db(dbNameOf(org.name));
      await tenant
        .collection('documents')
        .insertMany(Array.from({ length: 2000 }, (_, i) => ({ n: i, body: `document ${i}` })));
      let total = 0;
      for (const { name } of await tenant.listCollections({}, { nameOnly: true }).toArray()) {
        if (name !== TENANT_META_COLLECTION)
          total += await tenant.collection(name).countDocuments();
      }

      const newName = `${org.name} Moved`;
      const res = await t
        .http()
        .put('/org/update')
        .set(bearer(org.token))
        .send({ new_organization_name: newName })
        .expect(202);
      expect(res.headers['preference-applied']).toBeUndefined();
      expect(res.headers.location).toBe(`/org/operations/${res.body.id}`);

      const seen = await pollUntilDone(t, res.headers.location, org.token);
      const running = seen.filter((s) => s.status === 'running');
      const copied = running.map((s) => s.progress.documents_copied);
      // Several distinct positions were observed, never going backwards.
      expect(new Set(copied.filter((n) => n > 0)).size).toBeGreaterThanOrEqual(2);
      expect(copied).toEqual([...copied].sort((a, b) => a - b));
      expect(running.at(-1)!.progress.documents_total).toBe(total);
      const done = seen.at(-1)!;
      expect(done.status).toBe('succeeded');
      expect(done.progress).toEqual({ documents_copied: total, documents_total: total });
      expect(done.result).toMatchObject({ organization_name: newName });
    });
  });

  describe('an operation whose instance stops', () => {
    const LEASE_MS = 1000;
    const env = { OPERATION_LEASE_MS: String(LEASE_MS), TENANT_WRITE_DRAIN_MS: '500' };

    /**
     * Accepts a rename on one instance, freezes it at `point` (to the
     * database, the process died there), stops that instance, and starts a
     * second on the same master once the lease has run out; its repair at
     * start-up finishes or undoes the rename.
     */
    async function acceptThenStop(point: string) {
      const masterDbName = uniqueMasterDb();
      const hooks = new FreezingHooks('rename', point);
      const first = await createTestApp({ masterDbName, hooks, env });
      const org = await createOrg(first, 'Crash');
      const newName = `${org.name} Next`;
      const accepted = await renameAsync(first, org, newName).expect(202);
      await hooks.frozen;
      // Shutdown does not wait for the frozen rename.
      await first.close();
      await sleep(LEASE_MS + 200);
      const restarted = await createTestApp({ masterDbName, env });
      const login = await restarted
        .http()
        .post('/admin/login')
        .send({ email: org.email, password: PASSWORD })
        .expect(200);
      const token = login.body.access_token as string;
      const done = (await pollUntilDone(restarted, accepted.headers.location, token)).at(-1)!;
      return { restarted, org, newName, done };
    }

    it('is failed with OPERATION_INTERRUPTED when repair rolls it back', async () => {
      const { restarted, org, done } = await acceptThenStop('copied');
      try {
        expect(done.status).toBe('failed');
        expect(done.error).toMatchObject({
          code: 'OPERATION_INTERRUPTED',
          instance: '/org/update',
        });
        await restarted.http().get('/org/get').query({ organization_name: org.name }).expect(200);
      } finally {
        await restarted.master.db!.dropDatabase();
        await restarted.close();
      }
    });

    it('is succeeded with the owner view when repair rolls it forward', async () => {
      const { restarted, org, newName, done } = await acceptThenStop('switched');
      try {
        expect(done.status).toBe('succeeded');
        expect(done.result).toMatchObject({
          id: org.id,
          organization_name: newName,
          database_name: dbNameOf(newName),
          admin: { id: org.adminId, email: org.email },
        });
      } finally {
        await restarted.master.db!.dropDatabase();
        await restarted.close();
      }
    });
  });
});
