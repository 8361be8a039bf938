import { MongoClient } from 'mongodb';
import { TENANT_META_COLLECTION } from '../../src/database/database.constants';
import type { LaunchedMongo } from '../../tools/database/mongo-launcher';
import { isTestDatabase, TEST_MASTER_PREFIX } from '../utils/test-databases';

/**
 * Fails the run if a test left a database behind: every test file drops what
 * it created (test/setup/drop-test-databases.ts), so anything left is a leak
 * that would pile up on a developer's server. On a server of our own every
 * `org_*` counts; on MONGODB_URI only those made during this run, since the
 * developer's own service may keep its tenants there.
 */
export async function assertNoLeftoverDatabases(server: LaunchedMongo): Promise<void> {
  const runStarted = new Date(performance.timeOrigin);
  const client = await MongoClient.connect(server.uri, { serverSelectionTimeoutMS: 10_000 });
  try {
    const { databases } = await client.db('admin').admin().listDatabases({ nameOnly: true });
    const leftovers: string[] = [];
    for (const { name } of databases) {
      if (!isTestDatabase(name)) continue;
      if (server.kind === 'external' && !name.startsWith(TEST_MASTER_PREFIX)) {
        const meta = await client
          .db(name)
          .collection<{ created_at?: Date }>(TENANT_META_COLLECTION)
          .findOne({});
        if (!meta?.created_at || meta.created_at < runStarted) continue;
      }
      leftovers.push(name);
    }
    if (leftovers.length > 0) {
      throw new Error(
        `The e2e run left ${leftovers.length} database(s) behind: ${leftovers.join(', ')}. ` +
          'A test created them outside what test/utils/test-databases.ts records and drops.',
      );
    }
  } finally {
    await client.close();
  }
}
