#!/usr/bin/env node
/**
 * Lifecycle torture test: real service processes on one database,
 * random clients creating, renaming and deleting organizations and writing
 * members and teams, while a nemesis pauses, kills and restarts processes.
 * After the run and the repair time, a checker compares the database with
 * the history of acknowledged requests.
 *
 *   npm run torture -- [--duration 120] [--seed N] [--processes 3] [--clients 6]
 *                      [--lease-ms 2000] [--dist dist]
 *
 * Needs the service built (`npm run build`). Exits 1 on any violation.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { MongoClient } from 'mongodb';
import { check, readSnapshot, type CheckResult } from './checker';
import type { RequestEntry } from './history';
import { Nemesis } from './nemesis';
import { Random } from './random';
import { Recorder } from './recorder';
import { freePort, LOOPBACK, serviceEntry } from '../lib/service';
import { launchDatabase, ServiceProcess } from './services';
import type { LaunchedMongo } from '../database/mongo-launcher';
import { Client, PASSWORD, slugOf, World } from './workload';

const PROJECT = resolve(__dirname, '..', '..');

interface Options {
  duration: number;
  seed: number;
  processes: number;
  clients: number;
  leaseMs: number;
  dist: string;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '120' },
      seed: { type: 'string' },
      processes: { type: 'string', default: '3' },
      clients: { type: 'string', default: '6' },
      'lease-ms': { type: 'string', default: '2000' },
      // Another build of the service, e.g. one made from a clean checkout.
      dist: { type: 'string', default: join(PROJECT, 'dist') },
    },
  });
  const int = (name: string, raw: string, min: number, max: number) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new Error(`--${name} must be an integer from ${min} to ${max} (got "${raw}")`);
    }
    return n;
  };
  return {
    duration: int('duration', values.duration, 5, 86_400),
    seed: values.seed === undefined ? randomInt(2 ** 31) : int('seed', values.seed, 0, 2 ** 32 - 1),
    processes: int('processes', values.processes, 2, 8),
    clients: int('clients', values.clients, 1, 64),
    leaseMs: int('lease-ms', values['lease-ms'], 1000, 60_000),
    dist: resolve(values.dist),
  };
}

async function main(): Promise<number> {
  const options = parseOptions();
  const say = (line: string) => console.log(`torture: ${line}`);
  say(
    `seed ${options.seed} (rerun with --seed ${options.seed}); ${options.processes} processes, ${options.clients} clients, ${options.duration} s, lease ${options.leaseMs} ms`,
  );
  const entry = serviceEntry(options.dist);
  const runDir = mkdtempSync(join(tmpdir(), 'torture-'));
  say(`history, service logs and the final state go to ${runDir}`);

  // The tag keeps this run's databases apart from anything else on a shared server.
  const tag = `t${Date.now().toString(36).slice(-5)}`;
  const masterDb = `torture_${tag}`;
  const databasePrefix = `org_${tag}_`;
  const requestTimeoutMs = 3 * options.leaseMs;

  const services: ServiceProcess[] = [];
  let db: LaunchedMongo | undefined;
  let mongo: MongoClient | undefined;
  const killAll = () => services.forEach((s) => s.killNow());
  process.once('exit', killAll);
  process.once('SIGINT', () => {
    killAll();
    process.exit(130);
  });

  try {
    db = await launchDatabase(PROJECT, (message) => say(`[db] ${message}`));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: 'test',
      HOST: LOOPBACK,
      MONGODB_URI: db.uri,
      MASTER_DB_NAME: masterDb,
      JWT_SECRET: randomBytes(32).toString('hex'),
      JWT_EXPIRES_IN: '1h',
      BCRYPT_COST: '4',
      WEB_CONCURRENCY: '1',
      OPERATION_LEASE_MS: String(options.leaseMs),
      TENANT_WRITE_DRAIN_MS: String(Math.round(options.leaseMs / 4)),
      // Small batches: a rename copies in several steps, so pauses land inside it.
      COPY_BATCH_SIZE: '10',
      LOG_LEVEL: 'warn',
      CORS_ORIGINS: '',
      RATE_LIMIT_GLOBAL: '1000000/1m',
      RATE_LIMIT_LOGIN: '1000000/1m',
      RATE_LIMIT_CREATE: '1000000/1m',
      LOGIN_LOCKOUT: 'off',
      MIGRATE_ON_START: 'false',
    };
    delete env.PORT;
    delete env.SUPERADMIN_EMAIL;
    delete env.SUPERADMIN_PASSWORD;
    for (let i = 0; i < options.processes; i++) {
      const port = await freePort();
      services.push(new ServiceProcess(i, port, entry, env, join(runDir, `service-${i}.log`)));
    }
    // One after the other: the first creates the master indexes.
    for (const service of services) await service.start();
    say(`services up on ports ${services.map((s) => s.port).join(', ')}`);

    const recorder = new Recorder(
      join(runDir, 'history.jsonl'),
      () => services.map((s) => s.url),
      requestTimeoutMs,
    );
    const world = new World();
    const until = performance.now() + options.duration * 1000;
    const nemesis = new Nemesis(
      new Random(options.seed, 0),
      services,
      recorder,
      options.leaseMs,
      (line) => say(line),
    );
    const clients = Array.from(
      { length: options.clients },
      (_, i) =>
        new Client(i, new Random(options.seed, i + 1), recorder, world, {
          tag,
          processes: options.processes,
          reachable: () =>
            services.filter((s) => s.state === 'up' || s.state === 'paused').map((s) => s.index),
          leaseMs: options.leaseMs,
          maxOrgsPerClient: 2,
        }),
    );
    await Promise.all([nemesis.run(until), ...clients.map((c) => c.run(until))]);

    // Repair time: every process running, none paused, for more than two
    // leases, plus one orphan collection (every tenth repair sweep, a sweep
    // every half lease but at most once a second).
    for (const service of services) {
      service.resume();
      if (service.state === 'down') await service.start();
    }
    const orphanSweepMs = 10 * Math.max(1000, options.leaseMs / 2);
    const repairWaitMs = Math.round(2.5 * options.leaseMs) + 1000 + orphanSweepMs;
    say(`run over; all processes up; waiting ${repairWaitMs} ms for repair`);
    await sleep(repairWaitMs);

    mongo = await MongoClient.connect(db.uri);
    await recreateDeletedNames(world, recorder, mongo, masterDb, databasePrefix, services.length);
    const snapshot = await readSnapshot(mongo, masterDb, databasePrefix);
    const history = recorder.entries;
    const result = check(history, snapshot);
    await recorder.close();
    writeFileSync(join(runDir, 'snapshot.json'), `${JSON.stringify(snapshot, null, 2)}\n`);
    writeFileSync(
      join(runDir, 'violations.json'),
      `${JSON.stringify(result.violations, null, 2)}\n`,
    );

    const requests = history.filter((e): e is RequestEntry => e.type === 'request');
    const repaired = new Set<string>();
    for (const service of services) repairedOperations(service.logFile, repaired);
    const repairLines = repaired.size;
    const crashes = services.reduce((n, s) => n + s.unexpectedExits, 0);
    printReport(say, {
      options,
      requests,
      nemesis: nemesis.counts,
      repairClaims: snapshot.repairClaims,
      repairLines,
      crashes,
      result,
    });
    if (crashes > 0)
      say(`${crashes} service process(es) exited on their own: see the service logs`);

    // The run's databases on the server; a server started here is removed with its data.
    if (db.kind === 'external') {
      for (const database of snapshot.databases) await mongo.db(database.name).dropDatabase();
      await mongo.db(masterDb).dropDatabase();
    }
    return result.violations.length > 0 || crashes > 0 ? 1 : 0;
  } finally {
    await mongo?.close();
    await Promise.all(services.map((s) => s.stop()));
    await db?.stop();
  }
}

/**
 * A deleted organization's name and owner email must be usable again at
 * once: after repair, re-create (at most eight of) them, in the history's
 * `final` phase. Names another organization holds now are skipped.
 */
async function recreateDeletedNames(
  world: World,
  recorder: Recorder,
  mongo: MongoClient,
  masterDb: string,
  databasePrefix: string,
  processes: number,
): Promise<void> {
  const before = await readSnapshot(mongo, masterDb, databasePrefix);
  const taken = new Set(before.organizations.map((o) => o.slug));
  const latest = new Map<string, { name: string; ownerEmail: string }>();
  for (const deleted of world.deleted) latest.set(slugOf(deleted.name), deleted);
  let i = 0;
  for (const [slug, deleted] of latest) {
    if (taken.has(slug) || i >= 8) continue;
    await recorder.send({
      client: 'final',
      process: i++ % processes,
      phase: 'final',
      kind: 'org.create',
      subject: deleted.ownerEmail,
      value: deleted.name,
      method: 'POST',
      path: '/org/create',
      body: { organization_name: deleted.name, email: deleted.ownerEmail, password: PASSWORD },
    });
  }
}

/**
 * Operations a service announced it was repairing ("Repairing an interrupted
 * operation", once per attempt): the distinct `op_id`s, so an operation whose
 * repair was retried counts once. Start-up totals and failures do not count.
 */
function repairedOperations(logFile: string, into: Set<string>): void {
  let text: string;
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    return;
  }
  for (const line of text.split('\n')) {
    if (!/"msg":"[^"]*\brepairing\b/i.test(line)) continue;
    into.add(/"op_id":"([^"]+)"/.exec(line)?.[1] ?? line);
  }
}

function printReport(
  say: (line: string) => void,
  run: {
    options: Options;
    requests: RequestEntry[];
    nemesis: Nemesis['counts'];
    repairClaims: number;
    repairLines: number;
    crashes: number;
    result: CheckResult;
  },
): void {
  const byStatus = new Map<string, number>();
  for (const r of run.requests) {
    const key = r.status === null ? (r.error ?? 'none') : String(r.status);
    byStatus.set(key, (byStatus.get(key) ?? 0) + 1);
  }
  const statuses = [...byStatus.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${k}: ${n}`)
    .join(', ');
  const byKind = new Map<string, number>();
  for (const r of run.requests) byKind.set(r.kind, (byKind.get(r.kind) ?? 0) + 1);
  const kinds = [...byKind.entries()].map(([k, n]) => `${k} ${n}`).join(', ');
  const { checked, violations } = run.result;
  const repairs = Math.max(run.repairClaims, run.repairLines);
  say(`requests: ${run.requests.length} (${statuses})`);
  say(`by kind: ${kinds}`);
  say(
    `faults: ${run.nemesis.pauses} pauses, ${run.nemesis.kills} kills, ${run.nemesis.restarts} restarts${run.nemesis.failedRestarts ? ` (${run.nemesis.failedRestarts} failed attempts)` : ''}`,
  );
  say(
    `repairs: ${repairs} (operation_fences with fence > 1: ${run.repairClaims}; operations the logs say were repaired: ${run.repairLines})`,
  );
  say(
    `checked: ${checked.organizations} organizations, ${checked.acknowledgedWrites} acknowledged member/admin writes, ${checked.acknowledgedRenames} renames, ${checked.acknowledgedDeletes} deletes`,
  );
  const byViolation = new Map<string, number>();
  for (const v of violations) byViolation.set(v.kind, (byViolation.get(v.kind) ?? 0) + 1);
  for (const v of violations.slice(0, 50)) {
    say(`VIOLATION ${v.kind}${v.org ? ` [org ${v.org}]` : ''}: ${v.details}`);
  }
  if (violations.length > 50) say(`... and ${violations.length - 50} more (violations.json)`);
  say(
    `violations: ${violations.length}${violations.length ? ` (${[...byViolation.entries()].map(([k, n]) => `${k} ${n}`).join(', ')})` : ''}`,
  );
  say(
    `summary: seed ${run.options.seed}, ${run.requests.length} requests, ${run.nemesis.pauses} pauses, ${run.nemesis.kills} kills, ${run.nemesis.restarts} restarts, ${repairs} repairs, ${checked.acknowledgedWrites} acknowledged writes checked, ${violations.length} violations${run.crashes ? `, ${run.crashes} crashes` : ''}`,
  );
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error('torture: the run failed:', error);
    process.exitCode = 1;
  },
);
