import { MongoClient, type Document } from 'mongodb';
import { operationInterrupted } from '../src/common/errors/domain.error';
import {
  type CopyOptions,
  TenantDataMover,
} from '../src/organizations/lifecycle/tenant-data-mover';
import { tenantDbNameOf } from './utils/fixtures';
import { uniqueSuffix } from './utils/test-app';

/**
 * The mover's side of fencing, on a real database: a copy batch that lands
 * after its operation was taken over goes into a database a retry may have
 * filled meanwhile with the same documents (a copy keeps their ids).
 */
describe('TenantDataMover into a database someone else wrote to (e2e)', () => {
  let client: MongoClient;
  const names: string[] = [];
  const database = () => {
    const name = tenantDbNameOf(`Mover Batch ${uniqueSuffix()}`);
    names.push(name);
    return client.db(name);
  };

  beforeAll(async () => {
    client = await MongoClient.connect(process.env.MONGODB_URI!);
  });
  afterAll(async () => {
    for (const name of names) await client.db(name).dropDatabase();
    await client.close();
  });

  it('copies into a collection a late write created first, empty', async () => {
    const source = database();
    const target = database();
    await source.collection('members').insertMany([{ email: 'a@x.test' }, { email: 'b@x.test' }]);
    await target.createCollection('members');
    const plain: CopyOptions['write'] = (write) => write();
    await new TenantDataMover().copy(source, target, { batchSize: 10, write: plain });
    expect(await target.collection('members').countDocuments({})).toBe(2);
  });

  it('takes back exactly what it inserted: neither a document the live copy deleted, nor any the live copy holds', async () => {
    const source = database();
    const target = database();
    const docs: Document[] = Array.from({ length: 10 }, (_, i) => ({ email: `m${i}@x.test` }));
    await source.collection('members').insertMany(docs);
    // The retry's live copy, in which an admin has deleted m2 since.
    const live = docs.filter((_, i) => i <= 5 && i !== 2);

    let writes = 0;
    const takenOverAfterCollection: CopyOptions['write'] = async (write, undo) => {
      writes += 1;
      if (writes === 1) {
        const created = await write();
        // Meanwhile the retry copied into the same database.
        await target.collection('members').insertMany(live.map((d) => ({ ...d })));
        return created;
      }
      // Every later write lands after the take-over, and the fence check says so.
      const landed = await write();
      await undo?.(landed);
      throw operationInterrupted();
    };

    await expect(
      new TenantDataMover().copy(source, target, {
        batchSize: 10,
        write: takenOverAfterCollection,
      }),
    ).rejects.toMatchObject({ code: 'OPERATION_INTERRUPTED' });
    const left = await target.collection('members').find().sort({ email: 1 }).toArray();
    expect(left.map((d) => d.email)).toEqual(live.map((d) => d.email));
  });
});
