import { Worker } from 'node:worker_threads';
import { BODY_LIMIT_BYTES } from '../src/app.setup';
import { bearer, createOrg, type OrgFixture } from './utils/fixtures';
import { createTestApp, type TestApp } from './utils/test-app';

/**
 * The organization-name trim backtracked quadratically,
 * so one anonymous 100 kB body held the worker (and every other request,
 * health checks included) for seconds. Every input position the OpenAPI
 * document lists gets whitespace-padded values as large as the request
 * limits allow; each must be refused quickly while /health/live stays fast.
 */

/** Generous for a loaded CI box; the quadratic trim took about 5 s per 100 kB value. */
const ANSWER_BOUND_MS = 1500;
const HEALTH_BOUND_MS = 1000;
/** Room for the rest of the JSON body under the 100 kB limit. */
const BODY_PAD = BODY_LIMIT_BYTES - 2048;
/** URLs are limited to 16 kB of headers; `+` is one byte per space. */
const QUERY_PAD = 15_000;

/** Interior spaces (the old pattern's worst case) and spaces around a value. */
const shapes = (n: number) => ({
  interior: `x${' '.repeat(n)}x`,
  around: `${' '.repeat(n / 2)}x${' '.repeat(n / 2)}`,
});

/**
 * Checks /health/live back to back from a worker thread until told to stop,
 * then reports the slowest answer (a check in flight is waited for, so a
 * blocked server is always seen).
 */
const PROBER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
let running = false;
let maxMs = 0;
let status = 200;
let inFlight = null;
function check() {
  const started = performance.now();
  inFlight = new Promise((done) => {
    http.get(workerData.url, (res) => {
      res.resume();
      res.on('end', () => {
        maxMs = Math.max(maxMs, performance.now() - started);
        if (res.statusCode !== 200) status = res.statusCode;
        done();
      });
    }).on('error', () => { status = 0; done(); });
  });
  inFlight.then(() => { if (running) setTimeout(check, 2); });
}
parentPort.on('message', async (command) => {
  if (command === 'start') {
    running = true; maxMs = 0; status = 200;
    check();
    parentPort.postMessage('started');
  } else {
    running = false;
    await inFlight;
    parentPort.postMessage({ maxMs, status });
  }
});
`;

class LivenessProber {
  private readonly worker: Worker;
  constructor(url: string) {
    this.worker = new Worker(PROBER_SOURCE, { eval: true, workerData: { url } });
  }
  private ask<T>(command: string): Promise<T> {
    return new Promise((done) => {
      this.worker.once('message', done);
      this.worker.postMessage(command);
    });
  }
  start(): Promise<void> {
    return this.ask('start');
  }
  stop(): Promise<{ maxMs: number; status: number }> {
    return this.ask('stop');
  }
  close(): Promise<number> {
    return this.worker.terminate();
  }
}

type Operation = {
  parameters?: Array<{ name: string; in: string }>;
  requestBody?: { content: Record<string, { schema: { $ref?: string } }> };
};

interface Probe {
  label: string;
  method: string;
  path: string;
  query?: string;
  body?: Record<string, string>;
}

describe('Whitespace-padded values in every input position (e2e, ReDoS)', () => {
  let t: TestApp;
  let org: OrgFixture;
  let probes: Probe[];
  let prober: LivenessProber;

  beforeAll(async () => {
    t = await createTestApp();
    // Listening for real, so the prober's thread reaches the same server.
    await t.app.listen(0, '127.0.0.1');
    prober = new LivenessProber(`${await t.app.getUrl()}/health/live`);
    org = await createOrg(t, 'Redos');
    const doc = (await t.http().get('/docs-json').expect(200)).body as {
      paths: Record<string, Record<string, Operation>>;
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    };
    probes = [];
    for (const [template, methods] of Object.entries(doc.paths)) {
      // An id that is well formed but names nothing: the body and query are validated first.
      const path = template.replace(/\{[^{}]+\}/g, '000000000000000000000000');
      for (const [method, operation] of Object.entries(methods)) {
        for (const p of (operation.parameters ?? []).filter((p) => p.in === 'query')) {
          for (const [shape, value] of Object.entries(shapes(QUERY_PAD))) {
            probes.push({
              label: `${method.toUpperCase()} ${template} query.${p.name} (${shape})`,
              method,
              path,
              query: `${encodeURIComponent(p.name)}=${value.replace(/ /g, '+')}`,
            });
          }
        }
        const ref = operation.requestBody?.content['application/json']?.schema.$ref;
        const fields = ref
          ? Object.keys(doc.components.schemas[ref.split('/').pop()!].properties ?? {})
          : [];
        for (const field of fields) {
          for (const [shape, value] of Object.entries(shapes(BODY_PAD))) {
            probes.push({
              label: `${method.toUpperCase()} ${template} body.${field} (${shape})`,
              method,
              path,
              body: { [field]: value },
            });
          }
        }
      }
    }
  });
  afterAll(async () => {
    await prober.close();
    await t.close();
  });

  /**
   * Sends `probe` while a liveness prober on its own thread (so a blocked
   * event loop here cannot hide its wait) checks /health/live back to back;
   * returns the answer's time and the slowest liveness check's.
   */
  async function run(probe: Probe, withToken: boolean) {
    const url = probe.query ? `${probe.path}?${probe.query}` : probe.path;
    let req = t.http()[probe.method as 'get'](url);
    if (withToken) req = req.set(bearer(org.token));
    if (probe.body) req = req.send(probe.body);
    await prober.start();
    const started = performance.now();
    const res = await req;
    const ms = performance.now() - started;
    const health = await prober.stop();
    return { status: res.status, ms, healthStatus: health.status, healthMs: health.maxMs };
  }

  it('lists the positions of the org endpoints and of login', () => {
    const labels = probes.map((p) => p.label);
    for (const expected of [
      'POST /org/create body.organization_name (interior)',
      'POST /org/create body.email (interior)',
      'POST /org/create body.password (interior)',
      'GET /org/get query.organization_name (interior)',
      'PUT /org/update body.new_organization_name (interior)',
      'PUT /org/update body.current_password (interior)',
      'DELETE /org/delete query.organization_name (interior)',
      'DELETE /org/delete body.organization_name (interior)',
      'GET /org/list query.q (interior)',
      'POST /admin/login body.email (interior)',
    ]) {
      expect(labels).toContain(expected);
    }
  });

  it.each([
    ['with a valid token', true],
    ['anonymously', false],
  ])(
    'answers every padded value with a 4xx within the bound while /health/live stays fast, %s',
    async (_label, withToken) => {
      const slow: string[] = [];
      const wrong: string[] = [];
      let slowestMs = 0;
      let slowestHealthMs = 0;
      for (const probe of probes) {
        const result = await run(probe, withToken);
        slowestMs = Math.max(slowestMs, result.ms);
        slowestHealthMs = Math.max(slowestHealthMs, result.healthMs);
        if (result.status < 400 || result.status >= 500) {
          wrong.push(`${probe.label}: ${result.status}`);
        }
        if (result.healthStatus !== 200)
          wrong.push(`${probe.label}: health ${result.healthStatus}`);
        if (result.ms > ANSWER_BOUND_MS || result.healthMs > HEALTH_BOUND_MS) {
          slow.push(
            `${probe.label}: answered in ${Math.round(result.ms)} ms, /health/live in ${Math.round(result.healthMs)} ms`,
          );
        }
      }
      expect(probes.length).toBeGreaterThan(30);
      expect(wrong).toEqual([]);
      expect(slow).toEqual([]);
      expect(slowestMs).toBeLessThan(ANSWER_BOUND_MS);
      expect(slowestHealthMs).toBeLessThan(HEALTH_BOUND_MS);
    },
  );

  it('answers a 100 kB padded query string with 431 at once', async () => {
    const { interior } = shapes(BODY_PAD);
    const result = await run(
      {
        label: 'GET /org/get',
        method: 'get',
        path: '/org/get',
        query: `organization_name=${interior.replace(/ /g, '+')}`,
      },
      false,
    );
    expect(result.status).toBe(431);
    expect(result.ms).toBeLessThan(ANSWER_BOUND_MS);
    expect(result.healthMs).toBeLessThan(HEALTH_BOUND_MS);
  });
});
