import { setTimeout as sleep } from 'node:timers/promises';
import { Types } from 'mongoose';
import type { Response } from 'supertest';
import { OperationRepairService } from '../src/organizations/lifecycle/operation-repair.service';
import { slugify } from '../src/organizations/organization-name';
import { apiClient, expectProblem, type ApiClient } from './utils/api';
import { createOrg, newOrgInput, tenantDbNameOf as dbNameOf } from './utils/fixtures';
import { PausingHooks } from './utils/pausing-hooks';
import { createTestApp, tenantDatabases, uniqueMasterDb, type TestApp } from './utils/test-app';

const LEASE_MS = 1000;
// The paused worker's own answer is under test: it must stay synchronous
// however long the pause (no 202 once the operation budget is spent).
const env = {
  OPERATION_LEASE_MS: String(LEASE_MS),
  TENANT_WRITE_DRAIN_MS: '500',
  SYNC_OPERATION_BUDGET_MS: '50000',
};

async function addMembers(admin: ApiClient, count: number, tag: string) {
  for (let i = 0; i < count; i += 1) {
    await admin.members.add({ email: `${tag}-${i}@example.test`, name: `${tag} ${i}` }).expect(201);
  }
}

async function memberEmails(t: TestApp, databaseName: string): Promise<string[]> {
  const docs = await t.master.getClient().db(databaseName).collection('members').find().toArray();
  return docs.map((d) => d.email as string).sort();
}

async function tenantMetaOwner(t: TestApp, databaseName: string) {
  const meta = await t.master
    .getClient()
    .db(databaseName)
    .collection('_tenant_meta')
    .findOne({ _id: 'tenant' as never });
  return meta ? String(meta.organization_id) : null;
}

/** Waits until the repairing app has put the operation right (no pending left). */
async function repairedBy(t: TestApp, organizationId: string) {
  const repair = t.app.get(OperationRepairService);
  for (let i = 0; i < 100; i += 1) {
    await repair.repairStale();
    const org = await t.master
      .db!.collection('organizations')
      .findOne({ _id: new Types.ObjectId(organizationId) });
    if (!org?.pending) return org;
    await sleep(100);
  }
  throw new Error('repair did not finish');
}

/**
 * A worker that stalls past its lease while a second instance repairs, and
 * then resumes as if nothing had happened (what SIGSTOP, a long GC pause or a
 * frozen VM do). Fencing must make everything it does after that a no-op.
 */
describe('Fencing: a paused operation that resumes changes nothing (e2e)', () => {
  let masterDbName: string;
  let repairer: TestApp;
  const opened: TestApp[] = [];

  beforeEach(async () => {
    masterDbName = uniqueMasterDb();
    repairer = await createTestApp({ masterDbName, env });
    opened.push(repairer);
  });
  afterEach(async () => {
    while (opened.length) await opened.pop()!.close();
  });

  async function pausedWorker(type: 'rename' | 'delete' | 'create', point: string) {
    const hooks = new PausingHooks(type, point);
    const worker = await createTestApp({ masterDbName, env, hooks });
    opened.push(worker);
    return { worker, hooks };
  }

  it('a rename paused before its commit, rolled back by another instance, cannot copy into or drop the database of a new organization that took the target name', async () => {
    const { worker, hooks } = await pausedWorker('rename', 'copied');
    const org = await createOrg(worker, 'Fence Source');
    await addMembers(org.owner, 5, 'src');
    const targetName = `${org.name} Target`;
    const rename = org.owner.rename(targetName).then((r: Response) => r);
    await hooks.paused;
    await sleep(LEASE_MS + 200);
    await repairedBy(repairer, org.id);

    // The target name is free again; a new organization takes it at once.
    const input = { ...newOrgInput('x'), organization_name: targetName };
    const api = apiClient(repairer);
    const created = await api.createOrg(input).expect(201);
    const newcomer = await api.loginAs(input.email, input.password);
    await addMembers(newcomer, 2, 'new');

    hooks.resume();
    expectProblem(await rename, 503, 'OPERATION_INTERRUPTED');

    // The newcomer's database holds its own data only, and is still there.
    expect(await tenantMetaOwner(repairer, dbNameOf(targetName))).toBe(created.body.id);
    expect(await memberEmails(repairer, dbNameOf(targetName))).toEqual([
      'new-0@example.test',
      'new-1@example.test',
    ]);
    // The paused organization kept its name and all its data.
    const view = await api.as(org.token).getOrg(org.name).expect(200);
    expect(view.body.organization_name).toBe(org.name);
    expect(await memberEmails(repairer, dbNameOf(org.name))).toHaveLength(5);
    expect(await tenantMetaOwner(repairer, dbNameOf(org.name))).toBe(org.id);
  });

  it('a rename paused after its commit, rolled forward by another instance, cannot drop the database of a new organization that took the old name', async () => {
    const { worker, hooks } = await pausedWorker('rename', 'switched');
    const org = await createOrg(worker, 'Fence Old');
    await addMembers(org.owner, 3, 'old');
    const newName = `${org.name} Renamed`;
    const rename = org.owner.rename(newName).then((r: Response) => r);
    await hooks.paused;
    await sleep(LEASE_MS + 200);
    await repairedBy(repairer, org.id);

    const input = { ...newOrgInput('x'), organization_name: org.name };
    const api = apiClient(repairer);
    const created = await api.createOrg(input).expect(201);

    hooks.resume();
    expectProblem(await rename, 503, 'OPERATION_INTERRUPTED');

    expect(await tenantMetaOwner(repairer, dbNameOf(org.name))).toBe(created.body.id);
    expect(await memberEmails(repairer, dbNameOf(newName))).toHaveLength(3);
    const view = await api.as(org.token).getOrg(newName).expect(200);
    expect(view.body.organization_name).toBe(newName);
  });

  it('with the first repairer paused too, the operation is decided once: never both databases dropped, the record always points at a live one', async () => {
    const { worker, hooks } = await pausedWorker('rename', 'verified');
    const pausedRepair = new PausingHooks('rename', 'repair_claimed');
    const stalledRepairer = await createTestApp({ masterDbName, env, hooks: pausedRepair });
    opened.push(stalledRepairer);
    const org = await createOrg(worker, 'Fence Twice');
    await addMembers(org.owner, 4, 'twice');
    const rename = org.owner.rename(`${org.name} Next`).then((r: Response) => r);
    await hooks.paused;
    await sleep(LEASE_MS + 200);
    const stalled = stalledRepairer.app.get(OperationRepairService).repairStale();
    await pausedRepair.paused;
    await sleep(LEASE_MS + 200);
    await repairedBy(repairer, org.id);

    // Both stale parties resume; neither may change anything.
    hooks.resume();
    pausedRepair.resume();
    const [answer] = await Promise.all([rename, stalled]);
    expect(answer.status).toBe(503);

    const record = await repairer.master
      .db!.collection('organizations')
      .findOne({ slug: slugify(org.name) });
    expect(record?.pending).toBeNull();
    const live = (await tenantDatabases(repairer.master)).filter((d) =>
      d.startsWith(dbNameOf(org.name)),
    );
    expect(live).toEqual([record!.database_name]);
    expect(await memberEmails(repairer, record!.database_name as string)).toHaveLength(4);
    await apiClient(repairer)
      .as(org.token)
      .getOrg(record!.name as string)
      .expect(200);
  });

  it('a delete paused before dropping, finished by another instance, cannot drop the database of a new organization with the same name', async () => {
    const { worker, hooks } = await pausedWorker('delete', 'recorded');
    const org = await createOrg(worker, 'Fence Gone');
    await addMembers(org.owner, 2, 'gone');
    const remove = org.owner.deleteOrg(org.name).then((r: Response) => r);
    await hooks.paused;
    await sleep(LEASE_MS + 200);
    await repairedBy(repairer, org.id);

    const input = { ...newOrgInput('x'), organization_name: org.name, email: org.email };
    const api = apiClient(repairer);
    const created = await api.createOrg(input).expect(201);

    hooks.resume();
    const answer = await remove;
    expect(answer.status).toBe(503);
    expect(await tenantMetaOwner(repairer, dbNameOf(org.name))).toBe(created.body.id);
    await api.login(org.email, input.password).expect(200);
  });
});
