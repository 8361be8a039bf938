'use strict';
/** HTTP load with autocannon, plus what the server spent meanwhile (CPU, peak RSS). */
const { setTimeout: sleep } = require('node:timers/promises');
const autocannon = require('autocannon');
const { cpuMsOf, sampleRss } = require('./processes');

/**
 * Waits until the server has finished the requests still in flight when the
 * load generator stopped (a queue of bcrypt compares takes seconds), so
 * they do not eat into the next measurement: two 200 ms windows in a row
 * with under 10% of a core used, or `timeoutMs`.
 */
async function waitIdle(server, timeoutMs = 15_000) {
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

function runAutocannon(options) {
  return new Promise((resolve, reject) => {
    // autocannon returns an EventEmitter when given a callback; we only need the result.
    void autocannon(options, (error, result) => (error ? reject(error) : resolve(result)));
  });
}

/**
 * One measured run against `server` (a ServerProcess). Returns throughput of
 * 2xx answers, latency percentiles in ms, error counts, the server's peak
 * RSS, and its CPU time per request, and the database's when we started it
 * (steadier signals than req/s on a shared machine).
 */
async function measureHttp(
  server,
  request,
  { connections, durationSec, profileFile, dbPid, timeoutSec = 10 },
) {
  if (profileFile) await server.profiler('profile:start');
  const rss = sampleRss(server.pid);
  const cpuBefore = server.cpuMs();
  const dbCpuBefore = dbPid === undefined ? undefined : cpuMsOf(dbPid);
  const started = performance.now();
  const result = await runAutocannon({
    url: server.url + request.path,
    method: request.method ?? 'GET',
    headers: request.headers,
    body: request.body,
    setupClient: request.setupClient,
    connections,
    pipelining: 1,
    duration: durationSec,
    timeout: timeoutSec,
  });
  const elapsedSec = (performance.now() - started) / 1000;
  const cpuMs = server.cpuMs() - cpuBefore;
  const dbCpuMs = dbCpuBefore === undefined ? undefined : cpuMsOf(dbPid) - dbCpuBefore;
  const peakRss = rss.stop();
  if (profileFile) await server.profiler('profile:stop', profileFile);
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
async function warmUp(server, request, { connections, durationSec, timeoutSec = 10 }) {
  if (durationSec <= 0) return;
  await runAutocannon({
    url: server.url + request.path,
    method: request.method ?? 'GET',
    headers: request.headers,
    body: request.body,
    setupClient: request.setupClient,
    connections,
    duration: durationSec,
    timeout: timeoutSec,
  });
  await waitIdle(server);
}

module.exports = { measureHttp, warmUp, waitIdle };
