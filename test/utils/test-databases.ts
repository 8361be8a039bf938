import { MongoClient } from 'mongodb';
import { TENANT_DB_PREFIX } from '../../src/database/database.constants';

/** Every master database a test creates is named so; nothing else on a server is. */
export const TEST_MASTER_PREFIX = 'test_master_';

export const isTestDatabase = (name: string) =>
  name.startsWith(TEST_MASTER_PREFIX) || name.startsWith(TENANT_DB_PREFIX);

// Module state lives per test file: Jest gives each file its own module registry.
const suffixes = new Set<string>();
const masters = new Set<string>();
const openApps = new Set<() => Promise<void>>();

/**
 * Marks a random suffix as this file's. Test names carry one (`Org 1f3a9c2e`),
 * and so does every database made from them, even by a rename or an
 * operation that crashed half-way: that is how the file finds its databases
 * among those of files running at the same time on the same server.
 */
export function recordSuffix(suffix: string): void {
  suffixes.add(suffix);
}

/** Marks a master database as this file's. */
export function recordMaster(name: string): void {
  masters.add(name);
}

/** An app that `dropTestDatabases` closes first if the file left it open. */
export function trackOpenApp(close: () => Promise<void>): () => void {
  openApps.add(close);
  return () => openApps.delete(close);
}

interface MasterRecord {
  database_name?: string;
  pending?: { target_database?: string; source_database?: string } | null;
}

/**
 * Drops every database this file created: its masters, every tenant
 * database whose name carries one of its suffixes, and every one its masters
 * refer to (a fixed organization name has no suffix). Runs once at the end
 * of the file, not at each app's close, because tests restart an app on the
 * same master.
 */
export async function dropTestDatabases(): Promise<void> {
  for (const close of [...openApps]) await close().catch(() => undefined);
  if (masters.size === 0 && suffixes.size === 0) return;
  const client = await MongoClient.connect(process.env.MONGODB_URI!, {
    serverSelectionTimeoutMS: 10_000,
  });
  try {
    const { databases } = await client.db('admin').admin().listDatabases({ nameOnly: true });
    const existing = new Set(databases.map((d) => d.name).filter(isTestDatabase));
    const ours = new Set(
      [...existing].filter((name) => [...suffixes].some((suffix) => name.includes(suffix))),
    );
    for (const master of masters) {
      if (!existing.has(master)) continue;
      ours.add(master);
      const orgs = await client
        .db(master)
        .collection<MasterRecord>('organizations')
        .find({}, { projection: { database_name: 1, pending: 1 } })
        .toArray();
      for (const org of orgs) {
        for (const name of [
          org.database_name,
          org.pending?.target_database,
          org.pending?.source_database,
        ]) {
          if (name !== undefined && existing.has(name)) ours.add(name);
        }
      }
    }
    for (const name of ours) await client.db(name).dropDatabase();
  } finally {
    await client.close();
  }
}
