/**
 * A move of a large tenant between two real database servers, with member
 * writes running against it and the service paused (SIGSTOP) in the middle of
 * the copy; then every count is checked. The same documents are then copied
 * between the same two servers with the raw driver, for the move's throughput
 * against it.
 *
 *   npm run tenants:move-demo -- [--documents 100000] [--pause-ms 5000] [--writers 4]
 *
 * Exits 1 if any check fails.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { MongoClient, type Db } from 'mongodb';
import { launchMongo } from '../database/mongo-launcher';
import { serviceEntry, startService } from '../lib/service';

const { values: args } = parseArgs({
  options: {
    documents: { type: 'string', default: '100000' },
    'pause-ms': { type: 'string', default: '5000' },
    writers: { type: 'string', default: '4' },
  },
});
const DOCUMENTS = Number(args.documents);
const PAUSE_MS = Number(args['pause-ms']);
const WRITERS = Number(args.writers);
const BATCH = 1000;
const OPERATOR = { email: 'operator@demo.test', password: 'operator password 1' };
const PASSWORD = 'correct horse battery staple';

const checks: string[] = [];
let failed = false;
function check(ok: boolean, what: string) {
  checks.push(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failed = true;
}

async function main() {
  const log = () => undefined;
  const [home, away] = await Promise.all([
    launchMongo({ kinds: ['ferretdb'], persistent: false, log }),
    launchMongo({ kinds: ['ferretdb'], persistent: false, log }),
  ]);
  const direct = { home: new MongoClient(home.uri), away: new MongoClient(away.uri) };
  const service = await startService({
    entry: serviceEntry(),
    mongodbUri: home.uri,
    env: {
      NODE_ENV: 'production',
      MASTER_DB_NAME: 'demo_master',
      JWT_SECRET: randomBytes(32).toString('hex'),
      BCRYPT_COST: '10',
      LOG_LEVEL: 'warn',
      CORS_ORIGINS: '',
      SUPERADMIN_EMAIL: OPERATOR.email,
      SUPERADMIN_PASSWORD: OPERATOR.password,
      TENANT_CLUSTERS: JSON.stringify({ away: away.uri }),
      RATE_LIMIT_GLOBAL: 'off',
      RATE_LIMIT_LOGIN: 'off',
      RATE_LIMIT_CREATE: 'off',
    },
  });
  try {
    await run(service.url, service.pid, direct.home, direct.away);
  } finally {
    await service.stop();
    await Promise.all([direct.home.close(), direct.away.close()]);
    await Promise.all([home.stop(), away.stop()]);
  }
  for (const line of checks) console.log(line);
  process.exitCode = failed ? 1 : 0;
}

/** The fields this demo reads from answers. */
interface Answer {
  access_token?: string;
  database_name?: string;
  id?: string;
  status?: string;
  progress?: { documents_copied?: number };
}

async function api(base: string, method: string, path: string, body?: unknown, token?: string) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (path === '/org/move') headers.prefer = 'respond-async';
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as Answer };
}

async function run(base: string, pid: number, home: MongoClient, away: MongoClient) {
  const operator = (await api(base, 'POST', '/admin/login', OPERATOR)).body.access_token as string;
  const name = `Demo ${randomBytes(3).toString('hex')}`;
  const email = `owner@${name.replace(' ', '-').toLowerCase()}.test`;
  const created = await api(base, 'POST', '/org/create', {
    organization_name: name,
    email,
    password: PASSWORD,
  });
  if (created.status !== 201) throw new Error(`create: ${created.status}`);
  const database = created.body.database_name as string;
  const owner = (await api(base, 'POST', '/admin/login', { email, password: PASSWORD })).body
    .access_token as string;

  // The tenant's bulk, written behind the service's back as an import would.
  let started = Date.now();
  const members = home.db(database).collection('members');
  for (let i = 0; i < DOCUMENTS; i += BATCH) {
    await members.insertMany(
      Array.from({ length: Math.min(BATCH, DOCUMENTS - i) }, (_, j) => ({
        email: `seed-${i + j}@demo.test`,
        name: `Seed ${i + j}`,
        created_at: new Date(),
      })),
    );
  }
  console.log(`seeded ${DOCUMENTS} members in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  // Writers through the API for the whole move: each write is applied or refused.
  const acknowledged: string[] = [];
  const answers = new Map<number, number>();
  let writing = true;
  const writers = Array.from({ length: WRITERS }, async (_, w) => {
    for (let n = 0; writing; n += 1) {
      const member = `writer-${w}-${n}@demo.test`;
      const res = await api(base, 'POST', '/org/members', { email: member, name: 'W' }, owner);
      answers.set(res.status, (answers.get(res.status) ?? 0) + 1);
      if (res.status === 201) acknowledged.push(member);
      await sleep(res.status === 409 ? 200 : 20);
    }
  });
  await sleep(1000);

  started = Date.now();
  const move = await api(
    base,
    'POST',
    '/org/move',
    { organization_name: name, cluster: 'away' },
    operator,
  );
  check(
    move.status === 202,
    `POST /org/move with Prefer: respond-async answers 202 (got ${move.status})`,
  );
  const operation = `/org/operations/${String(move.body.id)}`;
  let paused = false;
  let status = 'running';
  while (status === 'running') {
    await sleep(500);
    const current = (await api(base, 'GET', operation, undefined, operator)).body;
    status = current.status ?? 'unknown';
    const copied = current.progress?.documents_copied ?? 0;
    if (!paused && copied >= DOCUMENTS / 2) {
      paused = true;
      console.log(`pausing the service (SIGSTOP) for ${PAUSE_MS} ms at ${copied} documents copied`);
      process.kill(pid, 'SIGSTOP');
      await sleep(PAUSE_MS);
      process.kill(pid, 'SIGCONT');
    }
  }
  const moveSeconds = (Date.now() - started) / 1000;
  await sleep(1000);
  writing = false;
  await Promise.all(writers);

  check(paused, 'the service was paused in the middle of the copy');
  check(status === 'succeeded', `the move succeeded (operation status ${status})`);
  const record = await home.db('demo_master').collection('organizations').findOne({ name });
  check(
    record?.cluster === 'away',
    `the organization record names cluster "away" (${String(record?.cluster)})`,
  );
  const moved = away.db(database).collection('members');
  const total = await moved.countDocuments();
  const seeded = await moved.countDocuments({ email: /^seed-/ });
  check(seeded === DOCUMENTS, `all ${DOCUMENTS} seeded members are on the target (${seeded})`);
  const present = await moved.countDocuments({ email: { $in: acknowledged } });
  check(
    present === acknowledged.length,
    `all ${acknowledged.length} acknowledged concurrent writes are on the target (${present})`,
  );
  check(total === DOCUMENTS + acknowledged.length, `nothing else is there (${total} documents)`);
  const { databases } = await home.db().admin().listDatabases({ nameOnly: true });
  check(
    !(databases as Array<{ name: string }>).some((d) => d.name === database),
    'the source database is gone from the home server',
  );
  const list = await api(base, 'GET', '/org/members?limit=1', undefined, owner);
  check(list.status === 200, `the owner reads members after the move (${list.status})`);
  console.log(`writes during the run: ${[...answers].map(([s, n]) => `${s}: ${n}`).join(', ')}`);
  // The pause is the nemesis's, not the move's: the rate leaves it out.
  const moveRate = total / (moveSeconds - PAUSE_MS / 1000);
  console.log(
    `move: ${total} documents in ${moveSeconds.toFixed(1)} s including the ${PAUSE_MS} ms pause (${moveRate.toFixed(0)} documents/s without it)`,
  );

  // The raw driver copying the same documents between the same two servers.
  started = Date.now();
  await rawCopy(away.db(database), home.db(`raw_copy_${randomBytes(3).toString('hex')}`));
  const rawSeconds = (Date.now() - started) / 1000;
  const rawRate = total / rawSeconds;
  console.log(
    `raw driver copy: ${total} documents in ${rawSeconds.toFixed(1)} s (${rawRate.toFixed(0)} documents/s); move / raw = ${(moveRate / rawRate).toFixed(2)}x`,
  );
}

/** Batched read and insert, one batch in flight each way, then the indexes: what a person would write. */
async function rawCopy(from: Db, to: Db) {
  const target = to.collection('members');
  let batch: Record<string, unknown>[] = [];
  let pending: Promise<unknown> = Promise.resolve();
  for await (const doc of from.collection('members').find({}, { batchSize: BATCH })) {
    batch.push(doc);
    if (batch.length === BATCH) {
      await pending;
      pending = target.insertMany(batch, { ordered: false });
      batch = [];
    }
  }
  await pending;
  if (batch.length) await target.insertMany(batch, { ordered: false });
  for (const index of await from.collection('members').indexes()) {
    if (index.name === '_id_') continue;
    await target.createIndex(index.key, { name: index.name, unique: index.unique });
  }
  await to.dropDatabase();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
