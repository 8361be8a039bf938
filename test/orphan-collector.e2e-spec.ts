import { setTimeout as sleep } from 'node:timers/promises';
import { Types } from 'mongoose';
import { OrphanCollector } from '../src/organizations/lifecycle/orphan-collector';
import { TenantClaims } from '../src/organizations/lifecycle/tenant-claims';
import { apiClient, expectProblem } from './utils/api';
import { createOrg, newOrgInput, tenantDbNameOf } from './utils/fixtures';
import { createTestApp, tenantDatabases, type TestApp } from './utils/test-app';

/**
 * Two deployments (two master databases) on one server, as staging and
 * production sharing a cluster would be: each one's orphan collection and
 * name claims may only ever take back databases its own master made.
 */
describe('orphan collection with two deployments on one server', () => {
  let ours: TestApp;
  let theirs: TestApp;

  beforeAll(async () => {
    ours = await createTestApp();
    theirs = await createTestApp();
  });
  afterAll(async () => {
    await theirs.close();
    await ours.close();
  });

  const collect = () => ours.app.get(OrphanCollector).collect();
  const forgetOrganization = (t: TestApp, id: string) =>
    t.master.db!.collection('organizations').deleteOne({ _id: new Types.ObjectId(id) });

  it("leaves another deployment's tenant databases alone", async () => {
    const theirOrg = await createOrg(theirs, 'Theirs');
    await collect();
    expect(await tenantDatabases(ours.master)).toContain(tenantDbNameOf(theirOrg.name));
    await theirOrg.owner.getOrg(theirOrg.name).expect(200);
  });

  it('refuses a name whose database another deployment holds, and leaves that database', async () => {
    const theirOrg = await createOrg(theirs, 'Taken');
    const res = await apiClient(ours).createOrg({
      ...newOrgInput(),
      organization_name: theirOrg.name,
    });
    expectProblem(res, 409, 'CONFLICT');
    expect(await tenantDatabases(ours.master)).toContain(tenantDbNameOf(theirOrg.name));
    await theirOrg.owner.getOrg(theirOrg.name).expect(200);
  });

  it('drops a database its own master made for an organization that is gone', async () => {
    const gone = await createOrg(ours, 'Gone');
    // What an operation interrupted at the wrong moment leaves behind.
    await forgetOrganization(ours, gone.id);
    await collect();
    expect(await tenantDatabases(ours.master)).not.toContain(tenantDbNameOf(gone.name));
  });

  it('leaves a database whose metadata does not name a master (made before that was recorded)', async () => {
    const old = await createOrg(ours, 'Old');
    const name = tenantDbNameOf(old.name);
    await ours.master
      .getClient()
      .db(name)
      .collection<{ _id: string }>('_tenant_meta')
      .updateOne({ _id: 'tenant' }, { $unset: { master: '' } });
    await forgetOrganization(ours, old.id);
    await collect();
    expect(await tenantDatabases(ours.master)).toContain(name);
  });
});

/**
 * A collection and a claim of one database never interleave: both hold that
 * database's lock, and a collection that stalled past half the lock's life
 * (a paused process) drops nothing, since a claim may have taken the lock
 * from it and recorded itself since.
 */
describe('orphan collection and claims of one database', () => {
  const LEASE_MS = 1000;
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({
      env: { OPERATION_LEASE_MS: String(LEASE_MS), TENANT_WRITE_DRAIN_MS: '500' },
    });
  });
  afterAll(async () => {
    await t.close();
  });

  const locationOf = (name: string) => ({ databaseName: tenantDbNameOf(name), cluster: 'default' });

  it('makes a create of the name wait while a collection holds its database', async () => {
    const input = newOrgInput('Waiting');
    let release!: () => void;
    const held = t.app
      .get(TenantClaims)
      .exclusively(
        locationOf(input.organization_name),
        () => new Promise<void>((resolve) => (release = resolve)),
      );
    let answered = false;
    const create = apiClient(t)
      .createOrg(input)
      .then((res) => {
        answered = true;
        return res;
      });
    await sleep(LEASE_MS / 2);
    expect(answered).toBe(false);
    release();
    await held;
    expect((await create).status).toBe(201);
  });

  it("stops a holder that stalled past half the lock's life before it acts", async () => {
    const location = locationOf(`Stalled ${newOrgInput().organization_name}`);
    const acted = t.app.get(TenantClaims).exclusively(location, async (lockHeld) => {
      await sleep(LEASE_MS / 2 + 100);
      lockHeld();
      return 'dropped';
    });
    await expect(acted).rejects.toMatchObject({ code: 'ORG_BUSY' });
  });
});
