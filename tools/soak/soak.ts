// Soak test: many concurrent clients drive mixed traffic (create, login, get,
// rename, delete, logout, bad input) against the built service, running as in
// production (cluster workers, NODE_ENV=production) on loopback. Then it checks:
// no 5xx and no unexpected answer, no organization or tenant document lost or
// left behind, worker memory stable, and readiness probes answering promptly.
//
//   npm run soak -- [--duration 60] [--clients 50] [--dist dist]
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { MongoClient } from 'mongodb';
import {
  PROJECT_ROOT,
  serviceEntry,
  startServiceWithDatabase,
  type ServiceWithDatabase,
} from '../lib/service';

/** The fields of an answer this soak reads. */
interface Answer {
  database_name?: string;
  access_token?: string;
  [key: string]: unknown;
}

interface CallOptions {
  body?: unknown;
  token?: string | null;
  raw?: string;
  contentType?: string;
  expect: number[];
  timeoutMs?: number;
}

interface SoakClient {
  index: number;
  name: string;
  email: string;
  token: string | null;
  database: string | undefined;
  deletedNames: string[];
}

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    clients: { type: 'string', default: '50' },
    dist: { type: 'string' },
  },
});
const DURATION_MS = Number(args.duration) * 1000;
const CLIENTS = Number(args.clients);
/** Longer than any answer should take: a request that runs out is counted as hanging. */
const REQUEST_TIMEOUT_MS = 30_000;
/** A rename copies the tenant's data, after waiting TENANT_WRITE_DRAIN_MS. */
const RENAME_TIMEOUT_MS = 90_000;
const PASSWORD = 'soak test passphrase';
/** Tenant documents seeded per client organization, which renames must carry along. */
const SEEDED = { notes: 60, tasks: 40 };
const SEEDED_TOTAL = Object.values(SEEDED).reduce((a, b) => a + b, 0);

if (!(DURATION_MS > 0) || !(CLIENTS > 0))
  throw new Error('--duration and --clients must be positive');

const stats = {
  requests: 0,
  byStatus: new Map<number, number>(),
  byAction: new Map<string, number>(),
  latency: new Map<string, number[]>(),
  unexpected: new Map<string, { count: number; expected: number[]; example: string }>(),
  serverErrors: 0,
};

function record(action: string, status: number, expected: number[], ms: number, detail: string) {
  stats.requests++;
  stats.byStatus.set(status, (stats.byStatus.get(status) ?? 0) + 1);
  const key = `${action} ${status}`;
  stats.byAction.set(key, (stats.byAction.get(key) ?? 0) + 1);
  const group = action.startsWith('bad:') ? 'bad-input' : action;
  if (!stats.latency.has(group)) stats.latency.set(group, []);
  stats.latency.get(group)!.push(ms);
  if (status >= 500 || status === 0) stats.serverErrors++;
  if (!expected.includes(status)) {
    const entry = stats.unexpected.get(key) ?? { count: 0, expected, example: detail };
    entry.count++;
    stats.unexpected.set(key, entry);
  }
}

const unique = () => randomBytes(5).toString('hex');

async function main() {
  const masterDb = `soak_${unique()}`;
  const service = await startServiceWithDatabase({
    entry: args.dist ? serviceEntry(resolve(args.dist)) : undefined,
    cwd: PROJECT_ROOT,
    env: {
      MASTER_DB_NAME: masterDb,
      // One client address sends everything; limits are covered by test/security.
      RATE_LIMIT_GLOBAL: process.env.SOAK_GLOBAL ?? '100000000/1m',
      RATE_LIMIT_LOGIN: '100000000/1m',
      RATE_LIMIT_CREATE: '100000000/1m',
    },
  });
  const mongo = new MongoClient(service.db.uri);
  let failed = false;
  try {
    await mongo.connect();
    const report = await soak(service, mongo, masterDb);
    for (const line of report.lines) console.log(line);
    failed = report.failed;
  } finally {
    await mongo.close().catch(() => undefined);
    if (failed) {
      const errors = service
        .output()
        .split('\n')
        .filter((line) => /"level":"(error|fatal)"/.test(line));
      if (errors.length > 0) console.log(`\nService errors:\n${errors.slice(-20).join('\n')}`);
    }
    await service.stop();
  }
  process.exitCode = failed ? 1 : 0;
}

async function soak(service: ServiceWithDatabase, mongo: MongoClient, masterDb: string) {
  const base = service.url;

  async function call(
    action: string,
    method: string,
    path: string,
    { body, token, raw, contentType, expect, timeoutMs }: CallOptions,
  ): Promise<{ status: number; body: Answer | null }> {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined || raw !== undefined)
      headers['content-type'] = contentType ?? 'application/json';
    let status: number;
    let json: Answer | null;
    const sent = Date.now();
    try {
      const res = await fetch(`${base}${path}`, {
        method,
        headers,
        body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
        signal: AbortSignal.timeout(timeoutMs ?? REQUEST_TIMEOUT_MS),
      });
      status = res.status;
      json = (await res.json().catch(() => null)) as Answer | null;
    } catch (error) {
      // A timeout or a dropped connection: as bad as a 5xx.
      status = 0;
      json = { error: String(error) };
    }
    record(
      action,
      status,
      expect,
      Date.now() - sent,
      status >= 400 || status === 0 ? (JSON.stringify(json)?.slice(0, 200) ?? '') : '',
    );
    return { status, body: json };
  }

  /** One client: its own organization, seeded tenant data, and a token. */
  async function newClient(index: number): Promise<SoakClient> {
    const client: SoakClient = {
      index,
      name: `Soak ${index} ${unique()}`,
      email: `soak-${index}-${unique()}@example.test`,
      token: null,
      database: undefined,
      deletedNames: [],
    };
    const created = await call('create', 'POST', '/org/create', {
      body: { organization_name: client.name, email: client.email, password: PASSWORD },
      expect: [201],
    });
    if (created.status !== 201) {
      throw new Error(
        `Client ${index} could not create its organization: ${created.status} ${JSON.stringify(created.body)}`,
      );
    }
    client.database = created.body?.database_name;
    const db = mongo.db(client.database);
    for (const [collection, count] of Object.entries(SEEDED)) {
      await db
        .collection(collection)
        .insertMany(
          Array.from({ length: count }, (_, n) => ({ client: index, n, text: 'x'.repeat(200) })),
        );
    }
    await login(client);
    return client;
  }

  /**
   * A rename or delete that outlived the service's sync budget answered 202:
   * poll its operation (with the caller's token) until it ends. Returns the
   * operation's `result`, or null if it failed or did not end in time.
   */
  async function awaitOperation(id: unknown, token: string | null): Promise<Answer | null> {
    const deadline = Date.now() + RENAME_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const res = await call('operation', 'GET', `/org/operations/${String(id)}`, {
        token,
        expect: [200],
      });
      const status = res.body?.status;
      if (res.status !== 200 || status === 'failed') return null;
      if (status === 'succeeded') return (res.body?.result as Answer | undefined) ?? null;
      await sleep(500);
    }
    return null;
  }

  /** After a delete answered 202, wait until its organization record is gone. */
  async function awaitDeleted(name: string): Promise<boolean> {
    const deadline = Date.now() + RENAME_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (!(await mongo.db(masterDb).collection('organizations').findOne({ name }))) return true;
      await sleep(500);
    }
    return false;
  }

  /** After a rename whose answer was lost, wait for it to settle and adopt its outcome. */
  async function resolveName(client: SoakClient, newName: string) {
    const deadline = Date.now() + RENAME_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const org = await mongo
        .db(masterDb)
        .collection('organizations')
        .findOne({ name: { $in: [client.name, newName] } });
      if (org && !org.pending) {
        client.name = org.name as string;
        client.database = org.database_name as string;
        return;
      }
      await sleep(500);
    }
  }

  async function login(client: SoakClient) {
    const res = await call('login', 'POST', '/admin/login', {
      body: { email: client.email, password: PASSWORD },
      expect: [200],
    });
    if (res.status === 200) client.token = res.body?.access_token ?? null;
  }

  const HOSTILE: [string, CallOptions][] = [
    ['bad-json', { raw: '{"organization_name": ', expect: [400] }],
    ['too-large', { raw: JSON.stringify({ pad: 'x'.repeat(110 * 1024) }), expect: [413] }],
    ['deep-json', { raw: '['.repeat(5000) + ']'.repeat(5000), expect: [400] }],
    ['proto-key', { raw: '{"__proto__": {"polluted": true}}', expect: [400] }],
    [
      'nul-byte',
      {
        body: { organization_name: 'Nul\u0000Org', email: 'a@b.test', password: PASSWORD },
        expect: [400],
      },
    ],
    [
      'operator',
      {
        body: { organization_name: { $gt: '' }, email: 'a@b.test', password: PASSWORD },
        expect: [400],
      },
    ],
    ['huge-number', { raw: '{"organization_name": 1e400}', expect: [400] }],
    [
      'wrong-type',
      {
        raw: 'organization_name=x',
        contentType: 'application/x-www-form-urlencoded',
        expect: [415],
      },
    ],
    ['text-plain', { raw: 'hello', contentType: 'text/plain', expect: [415] }],
  ];

  async function badInput(client: SoakClient) {
    const pick = Math.floor(Math.random() * (HOSTILE.length + 5));
    if (pick < HOSTILE.length) {
      const [label, spec] = HOSTILE[pick];
      await call(`bad:${label}`, 'POST', '/org/create', spec);
    } else if (pick === HOSTILE.length) {
      await call('bad:query', 'GET', '/org/get?organization_name=a&organization_name=b', {
        expect: [400],
      });
    } else if (pick === HOSTILE.length + 1) {
      await call(
        'bad:token',
        'GET',
        `/org/get?organization_name=${encodeURIComponent(client.name)}`,
        {
          token: 'not.a.token',
          expect: [401],
        },
      );
    } else if (pick === HOSTILE.length + 2) {
      await call('bad:method', 'PATCH', '/org/create', { expect: [405] });
    } else if (pick === HOSTILE.length + 3) {
      await call('bad:login', 'POST', '/admin/login', {
        body: { email: `nobody-${unique()}@example.test`, password: 'wrong password' },
        expect: [401],
      });
    } else {
      await call('bad:route', 'GET', '/no/such/route', { expect: [404] });
    }
  }

  async function step(client: SoakClient) {
    const roll = Math.random();
    if (roll < 0.25) {
      await call(
        'get-public',
        'GET',
        `/org/get?organization_name=${encodeURIComponent(client.name)}`,
        {
          expect: [200],
        },
      );
    } else if (roll < 0.45) {
      const res = await call(
        'get-owner',
        'GET',
        `/org/get?organization_name=${encodeURIComponent(client.name)}`,
        {
          token: client.token,
          expect: [200],
        },
      );
      if (res.status === 200 && res.body?.database_name !== client.database) {
        record(
          'get-owner:database',
          -1,
          [200],
          0,
          `${res.body?.database_name} != ${client.database}`,
        );
      }
    } else if (roll < 0.55) {
      await login(client);
    } else if (roll < 0.62) {
      const newName = `Soak ${client.index} ${unique()}`;
      const res = await call('rename', 'PUT', '/org/update', {
        token: client.token,
        body: { new_organization_name: newName },
        // 202: it outlived the service's sync budget and goes on; poll it.
        expect: [200, 202],
        timeoutMs: RENAME_TIMEOUT_MS,
      });
      const renamed =
        res.status === 202 ? await awaitOperation(res.body?.id, client.token) : res.body;
      if ((res.status === 200 || res.status === 202) && renamed) {
        client.name = newName;
        client.database = renamed.database_name;
      } else {
        // Counted above; now find out which name the organization ended up with.
        await resolveName(client, newName);
      }
    } else if (roll < 0.8) {
      await badInput(client);
    } else if (roll < 0.88) {
      // Churn: an organization that lives for one request.
      const input = {
        organization_name: `Churn ${unique()}`,
        email: `churn-${unique()}@example.test`,
        password: PASSWORD,
      };
      const created = await call('churn-create', 'POST', '/org/create', {
        body: input,
        expect: [201],
      });
      if (created.status !== 201) return;
      const token = (
        await call('churn-login', 'POST', '/admin/login', {
          body: { email: input.email, password: PASSWORD },
          expect: [200],
        })
      ).body?.access_token;
      const deleted = await call(
        'churn-delete',
        'DELETE',
        `/org/delete?organization_name=${encodeURIComponent(input.organization_name)}`,
        {
          token,
          expect: [200, 202],
        },
      );
      // 202: the delete goes on; the owner's token died with the organization, so watch the record.
      const gone =
        deleted.status === 200 ||
        (deleted.status === 202 && (await awaitDeleted(input.organization_name)));
      if (gone) client.deletedNames.push(input.organization_name);
    } else {
      const old = client.token;
      await call('logout', 'POST', '/admin/logout', { token: old, expect: [204] });
      await call(
        'revoked',
        'GET',
        `/org/get?organization_name=${encodeURIComponent(client.name)}`,
        {
          token: old,
          expect: [401],
        },
      );
      await login(client);
    }
  }

  // Clients start together, as a burst of sign-ups would.
  const clients = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => newClient(i)));

  const memory: { at: number; rss: number }[] = [];
  const started = Date.now();
  const deadline = started + DURATION_MS;
  const sampler = (async () => {
    while (Date.now() < deadline) {
      const rss = service.rss().reduce((sum, p) => sum + p.rss, 0);
      if (rss > 0) memory.push({ at: Date.now() - started, rss });
      await sleep(1000);
    }
  })();
  // Readiness is probed as a load balancer would, every two seconds. Under
  // overload it may say "not ready" (503: the database took over 1.5 s to
  // answer a ping), which is its job; it must never take long to say so.
  const readiness = { probes: 0, notReady: 0, slowest: 0, broken: 0 };
  const prober = (async () => {
    while (Date.now() < deadline) {
      const sent = Date.now();
      const status = await fetch(`${base}/health/ready`, { signal: AbortSignal.timeout(5000) })
        .then((res) => res.status)
        .catch(() => 0);
      readiness.probes++;
      readiness.slowest = Math.max(readiness.slowest, Date.now() - sent);
      if (status !== 200) readiness.notReady++;
      if (status !== 200 && status !== 503) readiness.broken++;
      await sleep(2000);
    }
  })();
  await Promise.all(
    clients.map(async (client) => {
      // Bounded by time and, as a backstop, by count.
      for (let i = 0; i < 100_000 && Date.now() < deadline; i++) await step(client);
    }),
  );
  await sampler;
  await prober;
  const elapsed = (Date.now() - started) / 1000;

  // ---- verification, straight from the database and through the API
  const lines: string[] = [];
  const problems: string[] = [];
  await sleep(500);
  const master = mongo.db(masterDb);
  // Operations the deadline interrupted finish (or are repaired) first.
  for (let waited = 0; waited < 60_000; waited += 500) {
    if ((await master.collection('organizations').countDocuments({ pending: { $ne: null } })) === 0)
      break;
    await sleep(500);
  }
  const records = await master.collection('organizations').find({}).toArray();
  const live = new Map(records.map((org) => [org.name as string, org]));
  let documentsInPlace = 0;
  for (const client of clients) {
    const org = live.get(client.name);
    if (!org) {
      problems.push(`lost organization: ${client.name}`);
      continue;
    }
    if (org.pending)
      problems.push(`operation left pending on ${client.name}: ${JSON.stringify(org.pending)}`);
    if (org.database_name !== client.database)
      problems.push(
        `${client.name}: master says ${org.database_name}, client saw ${client.database}`,
      );
    const db = mongo.db(org.database_name as string);
    for (const [collection, count] of Object.entries(SEEDED)) {
      const found = await db.collection(collection).countDocuments({});
      documentsInPlace += Math.min(found, count);
      if (found !== count)
        problems.push(`${client.name}: ${collection} has ${found} of ${count} documents`);
    }
    const res = await call(
      'verify',
      'GET',
      `/org/get?organization_name=${encodeURIComponent(client.name)}`,
      {
        token: client.token,
        expect: [200],
      },
    );
    if (res.status !== 200)
      problems.push(`${client.name}: not readable through the API (${res.status})`);
  }
  const deleted = clients.flatMap((c) => c.deletedNames);
  for (const name of deleted) {
    if (live.has(name)) problems.push(`deleted organization still there: ${name}`);
  }
  const expectedDatabases = new Set(records.map((org) => org.database_name as string));
  const tenantDatabases = (await mongo.db().admin().listDatabases({ nameOnly: true })).databases
    .map((d) => d.name)
    .filter((name) => name.startsWith('org_'));
  const orphans = tenantDatabases.filter((name) => !expectedDatabases.has(name));
  const missing = [...expectedDatabases].filter((name) => !tenantDatabases.includes(name));
  if (orphans.length > 0) problems.push(`databases left behind: ${orphans.slice(0, 5).join(', ')}`);
  if (missing.length > 0) problems.push(`databases missing: ${missing.slice(0, 5).join(', ')}`);
  if (records.length !== clients.length)
    problems.push(
      `${records.length} organizations in the master database, ${clients.length} expected`,
    );

  // Memory: after a warm-up fifth, the last quarter may not sit far above the first.
  const mb = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MB`;
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const warm = memory.filter((s) => s.at >= DURATION_MS * 0.2).map((s) => s.rss);
  const quarter = Math.max(1, Math.floor(warm.length / 4));
  const early = mean(warm.slice(0, quarter));
  const late = mean(warm.slice(-quarter));
  const peak = Math.max(0, ...memory.map((s) => s.rss));
  const memoryStable = warm.length < 4 || late <= early * 1.25 + 32 * 1024 * 1024;
  if (!memoryStable) problems.push(`memory grew from ${mb(early)} to ${mb(late)}`);
  if (readiness.broken || readiness.slowest > 2500) {
    problems.push(
      `readiness: ${readiness.broken} probes failed outright, slowest ${readiness.slowest} ms`,
    );
  }

  const unexpected = [...stats.unexpected.values()].reduce((sum, entry) => sum + entry.count, 0);
  const statuses = [...stats.byStatus.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([status, n]) => `${status}: ${n}`)
    .join(', ');
  const percentile = (xs: number[], p: number) =>
    xs[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];
  const latency = [...stats.latency.entries()]
    .map(([action, xs]) => {
      const sorted = [...xs].sort((a, b) => a - b);
      return `${action} ${sorted.length}× p50 ${percentile(sorted, 50)} / p95 ${percentile(sorted, 95)} / max ${sorted.at(-1)} ms`;
    })
    .join('; ');
  lines.push(
    `soak: ${elapsed.toFixed(0)} s, ${CLIENTS} clients, ${stats.requests} requests (${Math.round(stats.requests / elapsed)}/s); statuses ${statuses}`,
    `soak: latency: ${latency}`,
    `soak: 5xx or no answer: ${stats.serverErrors}; unexpected answers: ${unexpected}`,
    ...[...stats.unexpected.entries()]
      .slice(0, 10)
      .map(
        ([key, e]) =>
          `  unexpected: ${key} ×${e.count} (expected ${e.expected.join('/')}) ${e.example}`,
      ),
    `soak: organizations: ${clients.length} kept (renamed ${(stats.byAction.get('rename 200') ?? 0) + (stats.byAction.get('rename 202') ?? 0)} times), ${deleted.length} created and deleted; lost: ${clients.filter((c) => !live.has(c.name)).length}; tenant documents in place: ${documentsInPlace}/${clients.length * SEEDED_TOTAL}; databases left behind: ${orphans.length}, missing: ${missing.length}`,
    `soak: readiness: ${readiness.probes} probes, ${readiness.notReady} answered "not ready", slowest ${readiness.slowest} ms`,
    `soak: worker memory (RSS): after warm-up ${mb(early)}, at the end ${mb(late)}, peak ${mb(peak)} -> ${memoryStable ? 'stable' : 'GROWING'}`,
    ...problems.slice(0, 20).map((p) => `  problem: ${p}`),
  );
  const failed = stats.serverErrors > 0 || unexpected > 0 || problems.length > 0;
  lines.push(`soak: ${failed ? 'FAILED' : 'passed'}`);
  return { lines, failed };
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
