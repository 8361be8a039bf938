'use strict';
/**
 * Resolves many distinct tenants through the production
 * TenantConnectionFactory (from dist/) on a real connection configured like
 * DatabaseModule's, querying every `--query-every`th tenant, and reports the
 * heap growth after GC, the handles kept, and the most pool connections ever
 * open at once. Run with --expose-gc; prints one JSON line.
 *
 *   node --expose-gc bench/tenant-factory.js --uri URI [--tenants 10000] [--cache-size 1000]
 */
const { parseArgs } = require('node:util');
const { join } = require('node:path');
const mongoose = require('mongoose');

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
const dist = join(__dirname, '..', 'dist');
const { TenantConnectionFactory } = require(join(dist, 'database', 'tenant-connection.factory'));
const { ClusterConnections } = require(join(dist, 'database', 'cluster-connections'));

const MB = 1024 * 1024;

function heapAfterGc() {
  for (let i = 0; i < 3; i++) global.gc();
  return process.memoryUsage().heapUsed;
}

async function main() {
  if (typeof global.gc !== 'function') throw new Error('run with --expose-gc');
  const tenants = Number(args.tenants);
  const cacheSize = Number(args['cache-size']);
  const queryEvery = Number(args['query-every']);
  const maxInFlight = Number(args['in-flight']);
  const maxPoolSize = Number(args['max-pool-size']);

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

  const config = { tenantCacheSize: cacheSize, tenantClusters: {} };
  const factory = new TenantConnectionFactory(new ClusterConnections(master, config), config);
  // Warm the driver and the code paths once before the baseline heap reading.
  const warmup = { databaseName: 'org_bench_warmup', cluster: 'default' };
  await (await factory.db(warmup)).collection('_tenant_meta').findOne({ _id: 'tenant' });
  factory.forget(warmup);

  const heapBefore = heapAfterGc();
  let peakHeap = heapBefore;
  const inFlight = new Set();
  let queries = 0;
  const started = performance.now();
  for (let i = 0; i < tenants; i++) {
    const location = { databaseName: `org_bench_tenant_${i}`, cluster: 'default' };
    await factory.connection(location);
    if (i % queryEvery === 0) {
      const query = factory
        .db(location)
        .then((db) => db.collection('_tenant_meta').findOne({ _id: 'tenant' }))
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

  const result = {
    tenants,
    cacheSize,
    queries,
    seconds,
    heapGrowthMB: (heapAfter - heapBefore) / MB,
    peakHeapGrowthMB: (peakHeap - heapBefore) / MB,
    handlesKept: factory.cachedHandleCount,
    mongooseRelatedDbs: Object.keys(master.relatedDbs).length,
    mongooseOtherDbs: master.otherDbs.length,
    maxPoolSize,
    connectionsCreated: created,
    connectionsMaxOpen: maxOpen,
  };
  await master.close();
  console.log(JSON.stringify(result));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
