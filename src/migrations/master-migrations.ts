import type { Db } from 'mongodb';
import type { Migration } from './tenant-migrations';

/** Schema changes for the master database, in order. Append only. */
export const MASTER_MIGRATIONS: ReadonlyArray<Migration<Db>> = [
  {
    version: 1,
    description: 'organizations: owner_count from the owners that exist',
    up: async (db) => {
      const missing = db
        .collection('organizations')
        .find({ owner_count: { $exists: false } }, { projection: { _id: 1 } });
      for await (const org of missing) {
        const owners = await db
          .collection('admins')
          .countDocuments({ organization_id: org._id, role: 'owner' });
        await db
          .collection('organizations')
          .updateOne(
            { _id: org._id, owner_count: { $exists: false } },
            { $set: { owner_count: owners } },
          );
      }
    },
  },
];

export const LATEST_MASTER_VERSION = MASTER_MIGRATIONS[MASTER_MIGRATIONS.length - 1].version;
