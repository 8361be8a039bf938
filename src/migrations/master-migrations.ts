import type { Db } from 'mongodb';
import type { Migration } from './tenant-migrations';

/** Schema changes for the master database, in order. Append only. */
export const MASTER_MIGRATIONS: ReadonlyArray<Migration<Db>> = [
  {
    version: 1,
    description: 'admins: index for listing an organization by role',
    up: async (db) => {
      await db
        .collection('admins')
        .createIndex({ organization_id: 1, role: 1 }, { name: 'organization_id_1_role_1' });
    },
  },
];

export const LATEST_MASTER_VERSION = MASTER_MIGRATIONS[MASTER_MIGRATIONS.length - 1].version;
