import { randomBytes } from 'node:crypto';
import { MongoClient, ObjectId } from 'mongodb';
import { check, readSnapshot } from './checker';

/**
 * The reader behind the checker, against the test database server: what it
 * misses (a database, an id it mangles) the checker could never report.
 */
describe('torture snapshot reader', () => {
  const tag = `s${randomBytes(3).toString('hex')}`;
  const masterName = `torture_${tag}`;
  let client: MongoClient;

  beforeAll(async () => {
    client = await MongoClient.connect(process.env.MONGODB_URI!);
  });

  afterAll(async () => {
    const { databases } = await client.db().admin().listDatabases({ nameOnly: true });
    for (const { name } of databases) {
      if (name === masterName || name.startsWith(`org_${tag}_`)) {
        await client.db(name).dropDatabase();
      }
    }
    await client.close();
  });

  it("reads the run's organizations, admins, reservations and tenant databases", async () => {
    const orgId = new ObjectId();
    const master = client.db(masterName);
    await master.collection('organizations').insertOne({
      _id: orgId,
      name: 'S Alpha',
      slug: `${tag}_alpha`,
      database_name: `org_${tag}_alpha`,
      pending: null,
    });
    await master.collection('admins').insertMany([
      { email: 'owner@s.test', organization_id: orgId, role: 'owner', password_hash: 'x' },
      { email: 'op@s.test', organization_id: null, role: 'superadmin', password_hash: 'x' },
    ]);
    await master
      .collection<{ _id: string; organization_id: ObjectId; created_at: Date }>(
        'organization_slugs',
      )
      .insertOne({ _id: `${tag}_alpha`, organization_id: orgId, created_at: new Date() });
    await master
      .collection('operation_fences')
      .insertMany([{ fence: 1 }, { fence: 2 }, { fence: 3 }]);
    const tenant = client.db(`org_${tag}_alpha`);
    await tenant
      .collection<{ _id: string; organization_id: ObjectId; op_id: string }>('_tenant_meta')
      .insertOne({ _id: 'tenant', organization_id: orgId, op_id: 'op1' });
    await tenant
      .collection('members')
      .insertOne({ email: 'm@s.test', name: 'M', role: 'member', metadata: { a: 1 } });
    // A late write that recreated a dropped database: no _tenant_meta, one member.
    await client
      .db(`org_${tag}_beta`)
      .collection('members')
      .insertOne({ email: 'late@s.test', name: 'L', role: 'member', metadata: {} });

    const snapshot = await readSnapshot(client, masterName, `org_${tag}_`);

    expect(snapshot.organizations).toEqual([
      {
        id: orgId.toHexString(),
        name: 'S Alpha',
        slug: `${tag}_alpha`,
        database_name: `org_${tag}_alpha`,
        pending: null,
      },
    ]);
    expect(snapshot.admins.map((a) => [a.email, a.organization_id, a.role])).toEqual([
      ['owner@s.test', orgId.toHexString(), 'owner'],
      ['op@s.test', null, 'superadmin'],
    ]);
    expect(snapshot.slugs).toEqual([
      { slug: `${tag}_alpha`, organization_id: orgId.toHexString() },
    ]);
    expect(snapshot.repairClaims).toBe(2);
    expect(snapshot.databases.map((d) => [d.name, d.meta?.organization_id ?? null])).toEqual([
      [`org_${tag}_alpha`, orgId.toHexString()],
      [`org_${tag}_beta`, null],
    ]);
    expect(snapshot.databases[0].members).toEqual([
      expect.objectContaining({ email: 'm@s.test', name: 'M', metadata: { a: 1 } }),
    ]);

    const kinds = check([], snapshot).violations.map((v) => v.kind);
    expect(kinds.sort()).toEqual(['foreign-document', 'orphan-database']);
  });
});
