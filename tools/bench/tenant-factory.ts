/**
 * Resolves many distinct tenants through the production
 * TenantConnectionFactory (from dist/) on a real connection configured like
 * DatabaseModule's, querying every `--query-every`th tenant, and reports the
 * heap growth after GC, the handles kept, and the most pool connections ever
 * open at once. Run with --expose-gc; prints one JSON line.
 *
 *   node --expose-gc dist-tools/bench/tenant-factory.js --uri URI [--tenants 10000] [--cache-size 1000]
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Db } from 'mongodb';
import mongoose, { type Connection } from 'mongoose';
import { PROJECT_ROOT } from '../lib/service';

const { values: args } = parseArgs({
  options: {
    uri: { type: 'string' },
    tenants: { type: 'string', default: '10000' },
    'cache-size': { type: 'string', default: '1000' },
    'query-every': { type: 'string', default: '10' },
    'in-flight': { type: 'string', default: '100' },
    'max-pool-size': { type: 'string', default: '50' },
  },
});

interface TenantLocation {
  databaseName: string;
  cluster: string;
}

/** What this benchmark uses of the production factory (loaded from dist/, untyped here). */
interface TenantConnectionFactory {
  connection(location: TenantLocation): Promise<Connection>;
  db(location: TenantLocation): Promise<Db>;
  forget(location: TenantLocation): void;
  readonly cachedHandleCount: number;
}

interface FactoryConfig {
  tenantCacheSize: number;
  tenantClusters: Record<string, string>;
}

// The build of src/, not src/ itself: the benchmark measures what ships.
const load = createRequire(__filename);
const { TenantConnectionFactory } = load(
  join(PROJECT_ROOT, 'dist', 'database', 'tenant-connection.factory.js'),
) as {
  TenantConnectionFactory: new (
    clusters: unknown,
    config: FactoryConfig,
  ) => TenantConnectionFactory;
};
const { ClusterConnections } = load(
  join(PROJECT_ROOT, 'dist', 'database', 'cluster-connections.js'),
) as { ClusterConnections: new (master: Connection, config: FactoryConfig) => unknown };

const MB = 1024 * 1024;

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) global.gc?.();
  return process.memoryUsage().heapUsed;
}

async function main(): Promise<void> {
  if (typeof global.gc !== 'function') throw new Error('run with --expose-gc');
  const tenants = Number(args.tenants);
  const cacheSize = Number(args['cache-size']);
  const queryEvery = Number(args['query-every']);
  const maxInFlight = Number(args['in-flight']);
  const maxPoolSize = Number(args['max-pool-size']);

  if (args.uri === undefined) throw new Error('--uri is required');
  const master = await mongoose
    .createConnection(args.uri, {
      dbName: `bench_tenants_${process.pid}`,
      maxPoolSize,
      bufferCommands: false,
      autoIndex: false,
      autoCreate: false,
    })
    .asPromise();
  const client = master.getClient();
  let open = 0;
  let maxOpen = 0;
  let created = 0;
  client.on('connectionCreated', () => {
    created += 1;
    open += 1;
    maxOpen = Math.max(maxOpen, open);
  });
  client.on('connectionClosed', () => (open -= 1));

  const config: FactoryConfig = { tenantCacheSize: cacheSize, tenantClusters: {} };
  const factory = new TenantConnectionFactory(new ClusterConnections(master, config), config);
  // Warm the driver and the code paths once before the baseline heap reading.
  const warmup = { databaseName: 'org_bench_warmup', cluster: 'default' };
  await (
    await factory.db(warmup)
  )
    .collection<{ _id: string }>('_tenant_meta')
    .findOne({ _id: 'tenant' });
  factory.forget(warmup);

  const heapBefore = heapAfterGc();
  let peakHeap = heapBefore;
  const inFlight = new Set<Promise<unknown>>();
  let queries = 0;
  const started = performance.now();
  for (let i = 0; i < tenants; i++) {
    const location = { databaseName: `org_bench_tenant_${i}`, cluster: 'default' };
    await factory.connection(location);
    if (i % queryEvery === 0) {
      const query: Promise<unknown> = factory
        .db(location)
        .then((db) => db.collection<{ _id: string }>('_tenant_meta').findOne({ _id: 'tenant' }))
        .finally(() => inFlight.delete(query));
      inFlight.add(query);
      queries += 1;
      if (inFlight.size >= maxInFlight) await Promise.race(inFlight);
    }
    if (i % 500 === 0) peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  }
  await Promise.all(inFlight);
  const seconds = (performance.now() - started) / 1000;
  peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  const heapAfter = heapAfterGc();

  // Mongoose's own bookkeeping of useDb handles, untyped: what the LRU must keep bounded.
  const internals = master as unknown as {
    relatedDbs: Record<string, unknown>;
    otherDbs: unknown[];
  };
  const result = {
    tenants,
    cacheSize,
    queries,
    seconds,
    heapGrowthMB: (heapAfter - heapBefore) / MB,
    peakHeapGrowthMB: (peakHeap - heapBefore) / MB,
    handlesKept: factory.cachedHandleCount,
    mongooseRelatedDbs: Object.keys(internals.relatedDbs).length,
    mongooseOtherDbs: internals.otherDbs.length,
    maxPoolSize,
    connectionsCreated: created,
    connectionsMaxOpen: maxOpen,
  };
  await master.close();
  console.log(JSON.stringify(result));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
