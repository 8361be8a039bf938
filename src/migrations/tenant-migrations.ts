import type { Db } from 'mongodb';

export interface Migration<TTarget> {
  version: number;
  description: string;
  /** Must be idempotent: an interrupted run repeats the migration it was in. */
  up(target: TTarget): Promise<void>;
}

/**
 * Schema changes for every tenant database, in order. Append only: a
 * version, once released, never changes meaning. See ARCHITECTURE.md.
 */
export const TENANT_MIGRATIONS: ReadonlyArray<Migration<Db>> = [
  {
    version: 1,
    description: 'tenant metadata document',
    // Written by the create protocol itself; nothing to change.
    up: () => Promise.resolve(),
  },
  {
    version: 2,
    description: 'members: unique email index',
    up: async (db) => {
      await db
        .collection('members')
        .createIndex({ email: 1 }, { unique: true, name: 'email_unique' });
    },
  },
];

export const LATEST_TENANT_VERSION = TENANT_MIGRATIONS[TENANT_MIGRATIONS.length - 1].version;
