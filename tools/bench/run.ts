/**
 * The benchmark suite: builds the production service, starts the database
 * with the launcher the tests use, seeds it, and measures the service
 * against the raw baseline (baseline/) in alternating rounds. Writes
 * the table into BENCHMARKS.md (a full run) or tools/bench/results/ (quick or
 * partial runs) and prints the ratios. See BENCHMARKS.md for the method.
 *
 *   npm run bench                 # full run, a few minutes
 *   npm run bench -- --quick      # every scenario briefly (CI)
 *   npm run bench -- --scenarios 1,3 --rounds 5 --profile
 *   npm run bench -- --scenarios 1,6 --service-env NODE_OPTIONS=--max-semi-space-size=4
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import bcrypt from 'bcrypt';
import { MongoClient } from 'mongodb';
import { launchMongo } from '../database/mongo-launcher';
import { PROJECT_ROOT } from '../lib/service';
import { measureHttp, warmUp, type BenchRequest, type HttpRun } from './lib/load';
import type {
  BenchResults,
  HttpScenarioResult,
  CommandCount,
  HttpTargets,
  LoginResult,
  MoveRun,
  ScalingResult,
  RawCompareRun,
  RenameResult,
  StartupResult,
  TenantFactoryRun,
  JwtResult,
} from './lib/results';
import { printRatios, renderSection, summarize, writeReport } from './lib/report';
import {
  createOrganization,
  seedFillerOrganizations,
  seedTenant,
  TENANT_COLLECTIONS,
} from './lib/seed';
import { freePort, rssOf, ServerProcess, treeCpuMs, type ServerName } from './lib/server-process';

const ROOT = PROJECT_ROOT;
// The benchmark's own scripts, compiled next to this file into dist-tools/bench.
const HERE = __dirname;
const RESULTS = join(ROOT, 'tools', 'bench', 'results');

const ALL_SCENARIOS = ['1', '2', '3', '4', '5', '6', 'workers', 'tenants', 'jwt'];

const { values: cli } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string', default: '10' },
    documents: { type: 'string' },
    organizations: { type: 'string' },
    scenarios: { type: 'string', default: ALL_SCENARIOS.join(',') },
    'no-build': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    out: { type: 'string' },
    'log-level': { type: 'string', default: 'info' },
    // NAME=VALUE for the service's processes only, to weigh a setting such
    // as NODE_OPTIONS=--max-semi-space-size=4 or NODE_COMPILE_CACHE=<dir>
    // against the same baseline.
    'service-env': { type: 'string', multiple: true, default: [] },
  },
});

const quick = cli.quick;
const settings = {
  rounds: Number(cli.rounds ?? (quick ? 1 : 3)),
  durationSec: Number(cli.duration ?? (quick ? 3 : 6)),
  warmupSec: Number(cli.warmup ?? (quick ? 1 : 2)),
  connections: Number(cli.connections),
  loginDurationSec: quick ? 4 : 8,
  // Twice and more the thread pool (4): requests waiting on the database must
  // not leave a bcrypt thread idle, or the run measures latency, not capacity.
  loginConnections: 16,
  documents: Number(cli.documents ?? (quick ? 10_000 : 100_000)),
  renameRounds: Number(cli.rounds ?? (quick ? 1 : 2)),
  organizations: Number(cli.organizations ?? 100),
  tenants: 10_000,
  idleMs: quick ? 1000 : 2000,
  // Sequential requests per kind in the command-counting pass.
  countRequests: quick ? 20 : 100,
};
const only = new Set(cli.scenarios.split(',').map((s) => s.trim()));
// Only the service as deployed goes into BENCHMARKS.md.
const isFullRun =
  !quick &&
  ALL_SCENARIOS.every((s) => only.has(s)) &&
  cli.out === undefined &&
  cli['service-env'].length === 0;
const reportFile =
  cli.out ??
  (isFullRun ? join(ROOT, 'BENCHMARKS.md') : join(RESULTS, quick ? 'quick.md' : 'partial.md'));

const log = (message: string): void => console.log(`[bench] ${message}`);
const children = new Set<ServerProcess>();

function buildService(): void {
  log('Building the production service (npm run build)');
  const built = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (built.status !== 0) throw new Error('npm run build failed');
}

/** Runs a script of the benchmark in its own Node process; resolves to the JSON line it prints last. */
function nodeJson<T>(args: string[], env: NodeJS.ProcessEnv = process.env): T {
  const out = execFileSync(process.execPath, args, {
    cwd: ROOT,
    env,
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  return JSON.parse(out.trim().split('\n').pop() ?? 'null') as T;
}

function startServer(
  kind: ServerName,
  env: NodeJS.ProcessEnv,
  port: number,
  tag: string,
  { countCommands = false, name = kind }: { countCommands?: boolean; name?: string } = {},
): ServerProcess {
  // The preloads talk over IPC: the profiler when asked for, or the command
  // counter in the separate counting processes (never in a measured one).
  const preload = countCommands ? 'command-counter.js' : cli.profile ? 'profiler.js' : undefined;
  const server = new ServerProcess({
    name,
    script:
      kind === 'service' ? join(ROOT, 'dist', 'main.js') : join(HERE, 'baseline', 'server.js'),
    nodeArgs: preload === undefined ? [] : ['--require', join(HERE, 'lib', preload)],
    ipc: preload !== undefined,
    env,
    port,
    logFile: join(RESULTS, 'logs', `${name}-${tag}.log`),
  });
  children.add(server);
  void server.exited.then(() => children.delete(server));
  return server;
}

// Headers that differ per response by nature.
const VOLATILE_HEADERS = new Set(['date', 'x-request-id']);

interface TextAnswer {
  status: number;
  headers: string;
  body: string;
}

async function fetchText(
  url: string,
  init: RequestInit = {},
  timeoutMs = 30_000,
): Promise<TextAnswer> {
  const send = () => fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  let response: Response;
  try {
    response = await send();
  } catch (error) {
    // A pooled keep-alive connection the server closed while idle (its
    // keep-alive timeout, 72 s, is shorter than two baseline copies of
    // 100,000 documents) fails at once, on the write (EPIPE) or as the
    // server's close arrives (UND_ERR_SOCKET): the request never reached the
    // server, so sending it again on a fresh connection is safe.
    const code = ((error as Error).cause as NodeJS.ErrnoException | undefined)?.code;
    if (code !== 'EPIPE' && code !== 'UND_ERR_SOCKET') throw error;
    response = await send();
  }
  const headers = [...response.headers.entries()]
    .filter(([name]) => !VOLATILE_HEADERS.has(name))
    .map(([name, value]) => `${name}: ${value}`)
    .sort()
    .join('\n');
  return { status: response.status, headers, body: await response.text() };
}

/** The baseline must answer exactly as the service does, or its numbers mean nothing. */
async function assertSameAnswers(
  service: ServerProcess,
  baseline: ServerProcess,
  requests: BenchRequest[],
): Promise<void> {
  for (const request of requests) {
    const [a, b] = await Promise.all([
      fetchText(service.url + request.path, { headers: request.headers }),
      fetchText(baseline.url + request.path, { headers: request.headers }),
    ]);
    if (a.status !== 200 || a.status !== b.status || a.body !== b.body || a.headers !== b.headers) {
      throw new Error(
        `${request.path}: the baseline does not answer like the service; if the service changed on ` +
          `purpose, make tools/bench/baseline/server.ts do the same work\n  service:  ${a.status} ${a.body}\n${a.headers}\n  baseline: ${b.status} ${b.body}\n${b.headers}`,
      );
    }
  }
}

interface Credentials {
  email: string;
  password: string;
}

interface LoginAnswer {
  access_token: string;
  [field: string]: unknown;
}

async function assertSameLogin(
  service: ServerProcess,
  baseline: ServerProcess,
  credentials: Credentials,
  ownerPath: string,
): Promise<void> {
  const post = (server: ServerProcess) =>
    fetchText(`${server.url}/admin/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(credentials),
    });
  const [a, b] = await Promise.all([post(service), post(baseline)]);
  const strip = ({ access_token: _token, ...rest }: LoginAnswer) => rest;
  const ja = JSON.parse(a.body) as LoginAnswer;
  const jb = JSON.parse(b.body) as LoginAnswer;
  if (a.status !== 200 || b.status !== 200 || !isDeepStrictEqual(strip(ja), strip(jb))) {
    throw new Error(
      `login: the baseline does not answer like the service; if the service changed on purpose, ` +
        `make tools/bench/baseline/server.ts do the same work\n  service:  ${a.body}\n  baseline: ${b.body}`,
    );
  }
  // Each side must accept the other's token: the same claims, key and checks.
  const cross: [ServerProcess, string][] = [
    [service, jb.access_token],
    [baseline, ja.access_token],
  ];
  for (const [server, token] of cross) {
    const owner = await fetchText(server.url + ownerPath, {
      headers: { authorization: `Bearer ${token}` },
    });
    if (owner.status !== 200 || !(JSON.parse(owner.body) as { admin?: unknown }).admin) {
      throw new Error(
        `${server.name} did not accept the other side's token: ${owner.status} ${owner.body}`,
      );
    }
  }
}

interface Requests {
  root: BenchRequest;
  publicView: BenchRequest;
  ownerView: BenchRequest;
}

async function httpScenarios(
  service: ServerProcess,
  baseline: ServerProcess,
  requests: Requests,
  dbCpu: () => number | undefined,
): Promise<HttpScenarioResult[]> {
  const scenarios: { id: string; title: string; request: BenchRequest; targets: HttpTargets }[] = [
    {
      id: '1',
      title: '1. GET / (framework overhead)',
      request: requests.root,
      targets: { minRps: 0.5, maxCpu: 2 },
    },
    {
      id: '2',
      title: '2. GET /org/get, public view',
      request: requests.publicView,
      targets: { maxCpu: 1.3 },
    },
    {
      id: '3',
      title: '3. GET /org/get, owner view with token',
      request: requests.ownerView,
      targets: { maxCpu: 1.3, maxCommands: 3 },
    },
  ].filter((s) => only.has(s.id));
  const results = scenarios.map((s) => ({
    ...s,
    runs: { service: [] as HttpRun[], baseline: [] as HttpRun[] },
  }));
  const load = { connections: settings.connections, durationSec: settings.durationSec, dbCpu };
  for (const scenario of results) {
    for (const server of [service, baseline]) {
      await warmUp(server, scenario.request, { ...load, durationSec: settings.warmupSec });
    }
  }
  for (let round = 0; round < settings.rounds; round++) {
    for (const scenario of results) {
      // Alternate who goes first, so drift on a shared machine hits both alike.
      const order = round % 2 === 0 ? [service, baseline] : [baseline, service];
      for (const server of order) {
        const profileFile = cli.profile
          ? join(
              RESULTS,
              'profiles',
              server.name,
              `scenario-${scenario.id}-round-${round + 1}.cpuprofile`,
            )
          : undefined;
        const run = await measureHttp(server, scenario.request, { ...load, profileFile });
        scenario.runs[server === service ? 'service' : 'baseline'].push(run);
        log(
          `round ${round + 1} ${scenario.title} ${server.name}: ${run.rps.toFixed(0)} req/s, p50 ${run.p50} ms, p99 ${run.p99} ms, ${run.errors} errors`,
        );
      }
    }
  }
  return results.map(({ request: _request, ...rest }) => rest);
}

async function loginScenario(
  service: ServerProcess,
  baseline: ServerProcess,
  accounts: Credentials[],
  hash: string,
  dbCpu: () => number | undefined,
): Promise<LoginResult> {
  // One account per connection in turn: 16 attempts in flight on one account
  // would trip the per-account lock-out (10 per 15 minutes), as it should.
  const bodies = accounts.map((credentials) => JSON.stringify(credentials));
  let nextConnection = 0;
  const request: BenchRequest = {
    path: '/admin/login',
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: bodies[0],
    setupClient: (client) => client.setBody(bodies[nextConnection++ % bodies.length]),
  };
  const credentials = accounts[0];
  const load = {
    connections: settings.loginConnections,
    durationSec: settings.loginDurationSec,
    dbCpu,
    // 16 logins queued on ~8 compares/s wait seconds each, more on a busy machine.
    timeoutSec: 60,
  };
  const result: LoginResult = { cost: 12, service: [], baseline: [], raw: [] };
  for (const server of [service, baseline])
    await warmUp(server, request, { ...load, durationSec: 1 });
  for (let round = 0; round < settings.rounds; round++) {
    const order: (ServerName | 'raw')[] =
      round % 2 === 0 ? ['service', 'baseline', 'raw'] : ['raw', 'baseline', 'service'];
    for (const who of order) {
      if (who === 'raw') {
        const raw = nodeJson<RawCompareRun>([
          join(HERE, 'baseline', 'bcrypt-rate.js'),
          '--hash',
          hash,
          '--password',
          credentials.password,
          '--concurrency',
          String(settings.loginConnections),
          '--seconds',
          String(settings.loginDurationSec),
        ]);
        result.raw.push(raw);
        log(
          `round ${round + 1} raw bcrypt.compare: ${raw.rate.toFixed(2)}/s, CPU per compare ${raw.cpuMsPerCompare.toFixed(0)} ms`,
        );
      } else {
        const server = who === 'service' ? service : baseline;
        const profileFile = cli.profile
          ? join(RESULTS, 'profiles', who, `scenario-4-round-${round + 1}.cpuprofile`)
          : undefined;
        const run = await measureHttp(server, request, { ...load, profileFile });
        result[who].push(run);
        log(
          `round ${round + 1} login ${who}: ${run.rps.toFixed(2)}/s, p99 ${run.p99} ms, ${run.errors} errors, ` +
            `CPU per login ${((run.cpuUsPerRequest ?? NaN) / 1000).toFixed(0)} ms + database ${((run.dbCpuUsPerRequest ?? NaN) / 1000).toFixed(1)} ms`,
        );
      }
    }
  }
  return result;
}

interface MoveContext {
  uri: string;
  tag: string;
  moveName: string;
  moveToken: string;
  dbCpu: () => number | undefined;
  tenantDocuments: number;
}

async function renameScenario(service: ServerProcess, ctx: MoveContext): Promise<RenameResult> {
  const result: RenameResult = {
    documents: ctx.tenantDocuments,
    collections: TENANT_COLLECTIONS.length + 1,
    service: [],
    baseline: [],
  };
  const names = [ctx.moveName, `${ctx.moveName} b`];
  const dbName = (name: string) => `org_${name.toLowerCase().replace(/[^a-z0-9]+/g, '_')}`;
  let current = 0;
  const auth = { authorization: `Bearer ${ctx.moveToken}` };
  /**
   * A move that outlives the service's synchronous budget is answered 202
   * with an operation resource: then the move ends when the operation says
   * so (polled every 100 ms), which is what a client waits for too.
   */
  const untilFinished = async (operation: { id: string; status: string }) => {
    for (let state = operation; ; await sleep(100)) {
      if (state.status === 'succeeded') return;
      if (state.status !== 'running')
        throw new Error(`rename ${state.status}: ${JSON.stringify(state)}`);
      const poll = await fetchText(`${service.url}/org/operations/${operation.id}`, {
        headers: auth,
      });
      if (poll.status !== 200) throw new Error(`operation poll: ${poll.status} ${poll.body}`);
      state = JSON.parse(poll.body) as { id: string; status: string };
    }
  };
  const serviceMove = async (): Promise<MoveRun> => {
    const next = 1 - current;
    const started = performance.now();
    const response = await fetchText(
      `${service.url}/org/update`,
      {
        method: 'PUT',
        headers: { 'content-type': 'application/json', ...auth },
        body: JSON.stringify({ new_organization_name: names[next] }),
      },
      // A move of 100,000 documents takes a minute on a busy machine.
      10 * 60_000,
    );
    if (response.status === 202)
      await untilFinished(JSON.parse(response.body) as { id: string; status: string });
    else if (response.status !== 200)
      throw new Error(`rename failed: ${response.status} ${response.body}`);
    const seconds = (performance.now() - started) / 1000;
    const moved = await fetchText(
      `${service.url}/org/get?organization_name=${encodeURIComponent(names[next])}`,
      { headers: auth },
    );
    const body = JSON.parse(moved.body) as { database_name?: string };
    if (moved.status !== 200 || body.database_name !== dbName(names[next])) {
      throw new Error(`rename did not land: ${moved.status} ${moved.body}`);
    }
    current = next;
    return { seconds, docsPerSec: ctx.tenantDocuments / seconds };
  };
  const baselineCopy = () =>
    nodeJson<MoveRun>([
      join(HERE, 'baseline', 'copy.js'),
      '--uri',
      ctx.uri,
      '--source',
      dbName(names[current]),
      '--target',
      `bench_copy_${ctx.tag}`,
    ]);
  for (let round = 0; round < settings.renameRounds; round++) {
    const order: ServerName[] = round % 2 === 0 ? ['service', 'baseline'] : ['baseline', 'service'];
    for (const who of order) {
      const dbCpuBefore = ctx.dbCpu();
      const nodeCpuBefore = service.cpuMs() ?? 0;
      const run = who === 'service' ? await serviceMove() : baselineCopy();
      const dbCpuAfter = ctx.dbCpu();
      if (dbCpuBefore !== undefined && dbCpuAfter !== undefined)
        run.dbCpuMs = dbCpuAfter - dbCpuBefore;
      if (who === 'service') run.nodeCpuMs = (service.cpuMs() ?? 0) - nodeCpuBefore;
      result[who].push(run);
      const phases =
        run.copyMs === undefined
          ? ''
          : `, copy ${(run.copyMs / 1000).toFixed(1)} s + verify ${((run.verifyMs ?? NaN) / 1000).toFixed(1)} s`;
      log(
        `round ${round + 1} rename ${who}: ${run.seconds.toFixed(1)} s, ${run.docsPerSec.toFixed(0)} docs/s` +
          ` (node CPU ${((run.nodeCpuMs ?? NaN) / 1000).toFixed(1)} s, database CPU ${((run.dbCpuMs ?? NaN) / 1000).toFixed(1)} s${phases})`,
      );
    }
  }
  return result;
}

/**
 * Database commands per request, counted by the driver's command monitoring
 * in a fresh service and baseline started with lib/command-counter.ts
 * preloaded (monitoring costs a little per command, so never in the measured
 * processes): for each request kind, `countRequests` requests one after
 * another, then the count read over IPC.
 */
async function countCommands(
  envFor: (kind: ServerName) => NodeJS.ProcessEnv,
  tag: string,
  requests: Requests,
  accounts: Credentials[],
  results: BenchResults,
): Promise<void> {
  const kinds: ServerName[] = ['service', 'baseline'];
  const servers = await Promise.all(
    kinds.map(async (kind) => {
      const server = startServer(kind, envFor(kind), await freePort(), tag, {
        countCommands: true,
        name: `${kind}-commands`,
      });
      await server.ready;
      return server;
    }),
  );
  const count = async (
    server: ServerProcess,
    send: (i: number) => Promise<TextAnswer>,
    n: number,
  ): Promise<CommandCount> => {
    // One unmeasured request first: a first request may load lazily (indexes, caches).
    await send(0);
    await server.ask('commands:reset');
    for (let i = 0; i < n; i++) {
      const answer = await send(i);
      if (answer.status !== 200) {
        throw new Error(`${server.name}: ${answer.status} while counting commands: ${answer.body}`);
      }
    }
    const [reply] = await server.ask('commands:read');
    const byName = reply?.commands ?? {};
    const total = Object.values(byName).reduce((sum, v) => sum + v, 0);
    return { requests: n, perRequest: total / n, byName };
  };
  try {
    const kindsById: [string, BenchRequest][] = [
      ['1', requests.root],
      ['2', requests.publicView],
      ['3', requests.ownerView],
    ];
    for (const scenario of results.http) {
      const request = kindsById.find(([id]) => id === scenario.id)?.[1];
      if (request === undefined) continue;
      const [service, baseline] = await Promise.all(
        servers.map((server) =>
          count(
            server,
            () => fetchText(server.url + request.path, { headers: request.headers }),
            settings.countRequests,
          ),
        ),
      );
      scenario.commands = { service, baseline };
      log(
        `${scenario.title}: database commands per request ${service.perRequest} (service) / ${baseline.perRequest} (baseline)`,
      );
    }
    if (results.login) {
      // Few, one account after another: each is a bcrypt compare, and the lock-out allows 10 per account.
      const logins = Math.min(8, accounts.length * 2);
      const login = (server: ServerProcess) => (i: number) =>
        fetchText(`${server.url}/admin/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(accounts[i % accounts.length]),
        });
      const [service, baseline] = await Promise.all(
        servers.map((server) => count(server, login(server), logins)),
      );
      results.login.commands = { service, baseline };
      log(
        `login: database commands per request ${service.perRequest} (service) / ${baseline.perRequest} (baseline)`,
      );
    }
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }
}

/**
 * The service with WEB_CONCURRENCY=2 against itself with 1, both running,
 * rounds alternating as for the baseline; twice the connections so two
 * workers have work. Also reads each worker's RSS at idle after start-up.
 */
async function scalingScenario(
  envFor: (kind: ServerName) => NodeJS.ProcessEnv,
  tag: string,
  kinds: { title: string; request: BenchRequest }[],
): Promise<ScalingResult> {
  const start = async (workers: number) => {
    const server = startServer(
      'service',
      { ...envFor('service'), WEB_CONCURRENCY: String(workers) },
      await freePort(),
      tag,
      { name: `service-${workers}-workers` },
    );
    await server.ready;
    return server;
  };
  const one = await start(1);
  const two = await start(2);
  try {
    await sleep(settings.idleMs);
    const workerRss = two.workerRss();
    const primaryIdleRss = two.pid === undefined ? 0 : (rssOf(two.pid) ?? 0);
    const load = { connections: settings.connections * 2, durationSec: settings.durationSec };
    const scenarios = kinds.map((kind) => ({
      title: kind.title,
      one: [] as HttpRun[],
      two: [] as HttpRun[],
    }));
    for (const kind of kinds) {
      for (const server of [one, two])
        await warmUp(server, kind.request, { ...load, durationSec: settings.warmupSec });
    }
    for (let round = 0; round < settings.rounds; round++) {
      for (const [index, kind] of kinds.entries()) {
        const order = round % 2 === 0 ? [one, two] : [two, one];
        for (const server of order) {
          const run = await measureHttp(server, kind.request, load);
          scenarios[index][server === one ? 'one' : 'two'].push(run);
          log(
            `round ${round + 1} workers ${kind.title} ${server.name}: ${run.rps.toFixed(0)} req/s, CPU per request ${(run.cpuUsPerRequest ?? NaN).toFixed(0)} µs, ${run.errors} errors`,
          );
        }
      }
    }
    return {
      scenarios,
      workerIdleRss: workerRss.map((w) => w.rss),
      primaryIdleRss,
    };
  } finally {
    await Promise.all([one.stop(), two.stop()]);
  }
}

async function startupScenario(
  envFor: (kind: ServerName) => NodeJS.ProcessEnv,
  tag: string,
): Promise<StartupResult> {
  const result: StartupResult = { service: [], baseline: [] };
  for (let round = 0; round < settings.rounds; round++) {
    const order: ServerName[] = round % 2 === 0 ? ['service', 'baseline'] : ['baseline', 'service'];
    for (const kind of order) {
      const server = startServer(kind, envFor(kind), await freePort(), `${tag}-startup`);
      const readyMs = await server.ready;
      await sleep(settings.idleMs);
      const idleRss = Math.max(0, ...server.workerRss().map((w) => w.rss));
      await server.stop();
      result[kind].push({ readyMs, idleRss });
      log(
        `round ${round + 1} start-up ${kind}: ready in ${readyMs.toFixed(0)} ms, idle RSS ${(idleRss / 1048576).toFixed(0)} MB`,
      );
    }
  }
  return result;
}

async function main(): Promise<void> {
  const runStarted = performance.now();
  const loadAverage = os
    .loadavg()
    .map((v) => v.toFixed(2))
    .join(', ');
  mkdirSync(join(RESULTS, 'logs'), { recursive: true });
  if (!cli['no-build']) buildService();

  const tag = randomBytes(3).toString('hex');
  const db = await launchMongo({ persistent: false, preferPostgres: true, log: (m) => log(m) });
  const client = await MongoClient.connect(db.uri);
  // What runs, without the launcher's parenthesis (a path of this machine, why it was chosen).
  let databaseLabel: string = db.description?.replace(/ \(.*$/, '') ?? db.kind;
  try {
    const info = await client.db('admin').command({ buildInfo: 1 });
    if (info.ferretdbVersion === undefined) databaseLabel = `MongoDB ${String(info.version)}`;
  } catch {
    // buildInfo is informational only.
  }
  // FerretDB, and on PostgreSQL the cluster with its per-connection backends.
  const dbCpu = () => treeCpuMs([db.pid, db.backendPid]);
  const masterDb = `bench_master_${tag}`;
  const secret = randomBytes(48).toString('hex');
  const commonEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'production',
    MONGODB_URI: db.uri,
    MASTER_DB_NAME: masterDb,
    JWT_SECRET: secret,
    JWT_EXPIRES_IN: '1800',
    JWT_EXPIRES_IN_SECONDS: '1800',
    BCRYPT_COST: '12',
    LOG_LEVEL: cli['log-level'],
    // One process on loopback against one process: the cluster (one worker
    // per CPU in production) would be another comparison.
    WEB_CONCURRENCY: '1',
    HOST: '127.0.0.1',
    // A load test from one address is what per-address limits exist to
    // refuse; the baseline has none either. The login lock-out stays on.
    RATE_LIMIT_GLOBAL: 'off',
    RATE_LIMIT_LOGIN: 'off',
    RATE_LIMIT_CREATE: 'off',
  };
  const serviceEnv = Object.fromEntries(
    cli['service-env'].map((pair) => {
      const at = pair.indexOf('=');
      if (at < 1) throw new Error(`--service-env takes NAME=VALUE (got "${pair}")`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
  const envFor = (kind: ServerName): NodeJS.ProcessEnv =>
    kind === 'service' ? { ...commonEnv, ...serviceEnv } : { ...commonEnv };

  const results: BenchResults = { http: [] };
  let ownerView: BenchRequest | undefined;
  let service: ServerProcess | undefined;
  let baseline: ServerProcess | undefined;
  try {
    const needServers = ['1', '2', '3', '4', '5', 'workers'].some((s) => only.has(s));
    if (needServers) {
      const [servicePort, baselinePort] = [await freePort(), await freePort()];
      service = startServer('service', envFor('service'), servicePort, tag);
      baseline = startServer('baseline', envFor('baseline'), baselinePort, tag);
      await Promise.all([service.ready, baseline.ready]);
      log(`service on ${service.url}, baseline on ${baseline.url}`);

      log(`Seeding ${settings.organizations} organizations and their owners`);
      const master = client.db(masterDb);
      const password = randomBytes(12).toString('hex');
      const hash = await bcrypt.hash(password, 12);
      await seedFillerOrganizations(master, {
        count: settings.organizations,
        passwordHash: hash,
        tag,
      });
      const ownerName = `Bench Owner ${tag}`;
      const credentials = {
        email: `owner-${tag}@bench.test`,
        password: `pw-${randomBytes(8).toString('hex')}`,
      };
      const ownerToken = await createOrganization(service.url, { name: ownerName, ...credentials });
      const moveName = `Bench Move ${tag}`;
      const moveToken = await createOrganization(service.url, {
        name: moveName,
        email: `mover-${tag}@bench.test`,
        password: `pw-${randomBytes(8).toString('hex')}`,
      });
      const loginAccounts = [credentials];
      if (only.has('4')) {
        for (let i = 1; i < 4; i++) {
          const account = {
            email: `login-${i}-${tag}@bench.test`,
            password: `pw-${randomBytes(8).toString('hex')}`,
          };
          await createOrganization(service.url, { name: `Bench Login ${i} ${tag}`, ...account });
          loginAccounts.push(account);
        }
      }
      const owner = await master
        .collection<{ email: string; password_hash: string }>('admins')
        .findOne({ email: credentials.email });
      if (owner === null)
        throw new Error('the owner created through the API is not in the database');
      const ownerHash = owner.password_hash;

      const orgPath = `/org/get?organization_name=${encodeURIComponent(ownerName)}`;
      const requests: Requests = {
        root: { path: '/' },
        publicView: { path: orgPath },
        ownerView: { path: orgPath, headers: { authorization: `Bearer ${ownerToken}` } },
      };
      ownerView = requests.ownerView;
      await assertSameAnswers(service, baseline, [
        requests.root,
        requests.publicView,
        requests.ownerView,
      ]);
      await assertSameLogin(service, baseline, credentials, orgPath);
      log('The baseline answers exactly as the service does');

      results.http = await httpScenarios(service, baseline, requests, dbCpu);
      if (only.has('4'))
        results.login = await loginScenario(service, baseline, loginAccounts, ownerHash, dbCpu);
      await countCommands(envFor, tag, requests, loginAccounts, results);
      if (only.has('5')) {
        const moveDb = `org_${moveName.toLowerCase().replace(/[^a-z0-9]+/g, '_')}`;
        log(`Seeding ${settings.documents} documents into ${moveDb}`);
        const started = performance.now();
        const seeded = await seedTenant(client.db(moveDb), settings.documents);
        log(`Seeded in ${((performance.now() - started) / 1000).toFixed(1)} s`);
        results.rename = await renameScenario(service, {
          uri: db.uri,
          tag,
          moveName,
          moveToken,
          dbCpu,
          // The tenant's own metadata document moves too.
          tenantDocuments: seeded + 1,
        });
      }
      await Promise.all([service.stop(), baseline.stop()]);
    }
    if (only.has('workers') && ownerView !== undefined) {
      results.scaling = await scalingScenario(envFor, tag, [
        { title: 'GET /', request: { path: '/' } },
        { title: 'owner GET /org/get', request: ownerView },
      ]);
    }
    if (only.has('6')) results.startup = await startupScenario(envFor, tag);
    if (only.has('tenants')) {
      log(`Resolving ${settings.tenants} tenants through TenantConnectionFactory`);
      const factoryRun = (cacheSize: number) =>
        nodeJson<TenantFactoryRun>([
          '--expose-gc',
          join(HERE, 'tenant-factory.js'),
          '--uri',
          db.uri,
          '--tenants',
          String(settings.tenants),
          '--cache-size',
          String(cacheSize),
        ]);
      results.tenants = {
        bounded: factoryRun(1000),
        unbounded: quick ? undefined : factoryRun(100_000),
      };
    }
    if (only.has('jwt')) {
      results.jwt = nodeJson<JwtResult>([
        join(HERE, 'jwt-verify.js'),
        '--iterations',
        quick ? '10000' : '50000',
      ]);
    }
  } finally {
    await Promise.all([...children].map((child) => child.stop()));
    await client.close();
    await db.stop();
  }

  const cpu = os.cpus();
  const environment = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    cpu: cpu[0]?.model ?? 'unknown CPU',
    cores: cpu.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.type()} ${os.release()}`,
    node: process.version,
    database: databaseLabel,
    loadAverage,
    mode: quick ? 'quick' : 'full',
    settings:
      `${settings.rounds} round(s) of ${settings.durationSec} s at ${settings.connections} connections, ` +
      `login ${settings.loginDurationSec} s at ${settings.loginConnections}, ${settings.documents} documents ` +
      `(${settings.renameRounds} move(s) each), ${settings.organizations} filler organizations` +
      (cli['service-env'].length > 0 ? `; service with ${cli['service-env'].join(' ')}` : ''),
    totalSeconds: (performance.now() - runStarted) / 1000,
  };
  results.environment = environment;
  const rows = summarize(results);
  writeFileSync(
    join(RESULTS, `results-${environment.mode}.json`),
    JSON.stringify(results, null, 2),
  );
  writeReport(reportFile, renderSection(results, rows), '# Benchmarks');
  printRatios(rows);
  log(
    `Report written to ${reportFile.replace(ROOT + '/', '')} in ${environment.totalSeconds.toFixed(0)} s`,
  );
  // Missed targets are reported, not fatal (the machine is shared); wrong
  // answers are: a benchmark of failing requests measures nothing.
  const runs = [
    ...results.http.flatMap((s) => [...s.runs.service, ...s.runs.baseline]),
    ...(results.login ? [...results.login.service, ...results.login.baseline] : []),
  ];
  const failed = runs.reduce((n, run) => n + run.non2xx, 0);
  if (failed > 0) {
    console.error(`[bench] ${failed} responses were not 2xx; see tools/bench/results/logs/`);
    process.exitCode = 1;
  }
}

main().catch(async (error: unknown) => {
  console.error(error);
  await Promise.all([...children].map((child) => child.stop()));
  process.exit(1);
});
