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
  {
    version: 2,
    description: 'organizations: drop the reserved cluster_uri (the cluster is named in `cluster`)',
    up: async (db) => {
      // Always null: no organization could be placed by URI.
      await db
        .collection('organizations')
        .updateMany({ cluster_uri: { $exists: true } }, { $unset: { cluster_uri: '' } });
    },
  },
];

export const LATEST_MASTER_VERSION = MASTER_MIGRATIONS[MASTER_MIGRATIONS.length - 1].version;
