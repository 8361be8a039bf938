/** HTTP load with autocannon, plus what the server spent meanwhile (CPU, peak RSS). */
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { sampleRss, type ServerProcess } from './server-process';

/** One kind of request the load generator repeats. */
export interface BenchRequest {
  path: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Per connection, before its first request (a different account per connection). */
  setupClient?: (client: autocannon.Client) => void;
}

export interface LoadOptions {
  connections: number;
  durationSec: number;
  /** CPU milliseconds the database has used so far (FerretDB and what runs behind it). */
  dbCpu?: () => number | undefined;
  timeoutSec?: number;
  profileFile?: string;
}

export interface HttpRun {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  ok: number;
  errors: number;
  non2xx: number;
  peakRss: number;
  cpuUsPerRequest: number | undefined;
  dbCpuUsPerRequest: number | undefined;
}

/**
 * Waits until the server has finished the requests still in flight when the
 * load generator stopped (a queue of bcrypt compares takes seconds), so
 * they do not eat into the next measurement: two 200 ms windows in a row
 * with under 10% of a core used, or `timeoutMs`.
 */
export async function waitIdle(server: ServerProcess, timeoutMs = 15_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let quiet = 0;
  let before = server.cpuMs();
  while (quiet < 2 && performance.now() < deadline) {
    await sleep(200);
    const now = server.cpuMs();
    if (now === undefined || before === undefined) return;
    quiet = now - before < 20 ? quiet + 1 : 0;
    before = now;
  }
}

/** `request` against `server` from `connections` connections for `durationSec`, no pipelining. */
function runAutocannon(
  server: ServerProcess,
  request: BenchRequest,
  { connections, durationSec, timeoutSec = 10 }: LoadOptions,
): Promise<autocannon.Result> {
  const options: autocannon.Options = {
    url: server.url + request.path,
    method: request.method ?? 'GET',
    headers: request.headers,
    body: request.body,
    setupClient: request.setupClient,
    connections,
    pipelining: 1,
    duration: durationSec,
    timeout: timeoutSec,
  };
  return new Promise((resolve, reject) => {
    // autocannon returns an EventEmitter when given a callback; we only need the result.
    void autocannon(options, (error, result) => (error ? reject(error) : resolve(result)));
  });
}

/**
 * One measured run against `server`. Returns throughput of 2xx answers,
 * latency percentiles in ms, error counts, the server's peak RSS, and its
 * CPU time per request, and the database's when we started it (steadier
 * signals than req/s on a shared machine).
 */
export async function measureHttp(
  server: ServerProcess,
  request: BenchRequest,
  options: LoadOptions,
): Promise<HttpRun> {
  const { profileFile, dbCpu = () => undefined } = options;
  if (profileFile !== undefined) await server.ask('profile:start');
  const rss = sampleRss(server.pid);
  const cpuBefore = server.cpuMs() ?? 0;
  const dbCpuBefore = dbCpu();
  const started = performance.now();
  const result = await runAutocannon(server, request, options);
  const elapsedSec = (performance.now() - started) / 1000;
  const cpuMs = (server.cpuMs() ?? 0) - cpuBefore;
  const dbCpuAfter = dbCpu();
  const dbCpuMs =
    dbCpuBefore === undefined || dbCpuAfter === undefined ? undefined : dbCpuAfter - dbCpuBefore;
  const peakRss = rss.stop();
  if (profileFile !== undefined) await server.ask('profile:stop', { file: profileFile });
  await waitIdle(server);
  const ok = result['2xx'];
  return {
    rps: ok / elapsedSec,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    ok,
    errors: result.errors + result.timeouts + result.non2xx,
    non2xx: result.non2xx,
    peakRss,
    cpuUsPerRequest: ok > 0 ? (cpuMs * 1000) / ok : undefined,
    dbCpuUsPerRequest: ok > 0 && dbCpuMs !== undefined ? (dbCpuMs * 1000) / ok : undefined,
  };
}

/** Unmeasured load so the JIT and connection pools are warm before a measured run. */
export async function warmUp(
  server: ServerProcess,
  request: BenchRequest,
  options: LoadOptions,
): Promise<void> {
  if (options.durationSec <= 0) return;
  await runAutocannon(server, request, options);
  await waitIdle(server);
}
