/**
 * The yardstick for a rename's data move: copy every collection, document
 * and index of one database into another with the raw driver, then verify
 * (same collections, same document counts, same index names) exactly as
 * TenantDataMover.verify does, then drop the copy (a rename drops its source,
 * a database of the same size). Prints one JSON line with the timings.
 *
 *   node dist-tools/bench/baseline/copy.js --uri URI --source DB --target DB [--batch N] [--sequential]
 */
import { parseArgs } from 'node:util';
import {
  MongoClient,
  type CollectionInfo,
  type Db,
  type Document,
  type IndexDescription,
} from 'mongodb';

const { values: args } = parseArgs({
  options: {
    uri: { type: 'string' },
    source: { type: 'string' },
    target: { type: 'string' },
    batch: { type: 'string', default: '1000' },
    sequential: { type: 'boolean', default: false },
    'keep-target': { type: 'boolean', default: false },
  },
});
const BATCH = Number(args.batch);

type CopyableInfo = Pick<CollectionInfo, 'name' | 'type' | 'options'>;

async function listCopyable(db: Db): Promise<CopyableInfo[]> {
  const infos: CopyableInfo[] = await db.listCollections({}, { nameOnly: false }).toArray();
  return infos
    .filter((c) => !c.name.startsWith('system.'))
    .sort((a, b) => a.name.localeCompare(b.name));
}

async function indexSpecs(db: Db, name: string): Promise<IndexDescription[]> {
  const indexes = (await db.collection(name).listIndexes().toArray()) as Document[];
  return indexes
    .filter((ix) => ix.name !== '_id_')
    .map(({ v: _v, ns: _ns, key, ...options }) => ({
      key: key as IndexDescription['key'],
      ...options,
    }));
}

/** Reads batch n+1 while batch n is written: one read and one write in flight per collection. */
async function copyCollection(source: Db, target: Db, info: CopyableInfo): Promise<number> {
  if (info.type === 'view') {
    await target.createCollection(info.name, info.options ?? {});
    return 0;
  }
  const hasOptions = info.options !== undefined && Object.keys(info.options).length > 0;
  await target.createCollection(info.name, hasOptions ? info.options : {});
  const destination = target.collection(info.name);
  const cursor = source.collection(info.name).find({}, { batchSize: BATCH });
  let copied = 0;
  let batch: Document[] = [];
  let writing: Promise<unknown> = Promise.resolve();
  for await (const doc of cursor) {
    batch.push(doc);
    if (batch.length >= BATCH) {
      await writing;
      writing = destination.insertMany(batch, { ordered: false });
      copied += batch.length;
      batch = [];
    }
  }
  await writing;
  if (batch.length > 0) await destination.insertMany(batch, { ordered: false });
  copied += batch.length;
  const specs = await indexSpecs(source, info.name);
  if (specs.length > 0) await destination.createIndexes(specs);
  return copied;
}

async function verify(source: Db, target: Db): Promise<void> {
  const [from, to] = await Promise.all([listCopyable(source), listCopyable(target)]);
  const toNames = new Set(to.map((c) => c.name));
  const mismatches: string[] = [];
  await Promise.all(
    from.map(async (info) => {
      if (!toNames.has(info.name)) {
        mismatches.push(`collection ${info.name} missing`);
        return;
      }
      if (info.type === 'view') return;
      const [a, b, ia, ib] = await Promise.all([
        source.collection(info.name).countDocuments({}),
        target.collection(info.name).countDocuments({}),
        indexSpecs(source, info.name),
        indexSpecs(target, info.name),
      ]);
      if (a !== b) mismatches.push(`${info.name}: ${a} documents in source, ${b} in target`);
      const names = (specs: IndexDescription[]) =>
        specs
          .map((s) => s.name)
          .sort()
          .join(',');
      if (names(ia) !== names(ib)) mismatches.push(`${info.name}: indexes differ`);
    }),
  );
  if (to.length !== from.length) mismatches.push('target has extra collections');
  if (mismatches.length > 0) throw new Error(`verification failed: ${mismatches.join('; ')}`);
}

async function main(): Promise<void> {
  if (args.uri === undefined || args.source === undefined || args.target === undefined)
    throw new Error('--uri, --source and --target are required');
  const client = await MongoClient.connect(args.uri, { maxPoolSize: 50 });
  try {
    const source = client.db(args.source);
    const target = client.db(args.target);
    await target.dropDatabase();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const infos = await listCopyable(source);
    let documents = 0;
    if (args.sequential) {
      for (const info of infos) documents += await copyCollection(source, target, info);
    } else {
      const counts = await Promise.all(infos.map((info) => copyCollection(source, target, info)));
      documents = counts.reduce((a, b) => a + b, 0);
    }
    const t1 = performance.now();
    await verify(source, target);
    const t2 = performance.now();
    if (!args['keep-target']) await target.dropDatabase();
    const t3 = performance.now();
    const seconds = (t3 - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    console.log(
      JSON.stringify({
        documents,
        collections: infos.length,
        copyMs: t1 - t0,
        verifyMs: t2 - t1,
        dropMs: t3 - t2,
        seconds,
        docsPerSec: documents / seconds,
        nodeCpuMs: (cpu.user + cpu.system) / 1000,
      }),
    );
  } finally {
    await client.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
