/**
 * Builds the production image from the real Dockerfile and runs it the way
 * docker-compose.yml wires it, with podman (no Docker engine is needed):
 *
 *  1. the Dockerfile's base image, made here if podman does not have it
 *     (base-image.ts), and a stand-in for compose's NGINX image;
 *  2. `podman build --pull=never` of the Dockerfile, then once more (cached);
 *  3. a network of its own with the services of docker-compose.yml under their
 *     names: `mongo` (FerretDB standing in for MongoDB 7), `app` (the image,
 *     with compose's environment, a secrets env file and its grace period) and
 *     `nginx` (compose's mounts: the Elastic Beanstalk configuration and
 *     docker/nginx/default.conf, whose upstream is `app:8080`);
 *  4. checks: the image's HEALTHCHECK reports healthy, the service runs as a
 *     non-root user, a client on the network creates an organization, logs in
 *     and reads it through NGINX, and on SIGTERM (`podman stop`) the service
 *     drains and exits 0 within compose's stop_grace_period.
 *
 * Prints every command and its output; the last line is a summary.
 *
 *   npm run container:test
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse as parseYaml } from 'yaml';
import { ensureBaseImage } from './base-image';
import { imageExists, imageInspect, inspect, LIMITS, podman } from './podman';
import { check, checksPassed } from '../lib/check';
import { locateFerretDb } from '../database/ferretdb.installer';
import { ferretDbArgs } from '../database/ferretdb.server';

const ROOT = resolve(__dirname, '..', '..');
const WORK = join(ROOT, '.tools', 'container');
const APP_IMAGE = 'localhost/org-management-service:ci';
const NGINX_IMAGE = 'localhost/org-ci-nginx:bookworm';

interface ComposeService {
  image?: string;
  environment?: Record<string, string>;
  env_file?: Array<{ path: string; required?: boolean }>;
  volumes?: string[];
  stop_grace_period?: string;
}

const figures: string[] = [];

function seconds(since: number): number {
  return Math.round((performance.now() - since) / 100) / 10;
}

/** `${VAR:-default}` and `${VAR}` as compose interpolates them, from this process's environment. */
function interpolate(value: string): string {
  return value.replace(/\$\{([A-Z0-9_]+)(?::-([^}]*))?\}/g, (_, name: string, fallback?: string) =>
    process.env[name] ? process.env[name] : (fallback ?? ''),
  );
}

/** The base image the Dockerfile's first FROM names, with its ARG defaults applied. */
function dockerfileBase(): { name: string; nodeVersion: string } {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const args = Object.fromEntries(
    [...dockerfile.matchAll(/^ARG (\w+)=(\S+)$/gm)].map(([, key, value]) => [key, value]),
  );
  const from = /^FROM (\S+)/m.exec(dockerfile)?.[1];
  if (!from || !args.NODE_VERSION) throw new Error('Dockerfile: no FROM or NODE_VERSION');
  return {
    name: from.replace(/\$\{(\w+)\}/g, (_, key: string) => args[key] ?? ''),
    nodeVersion: args.NODE_VERSION,
  };
}

/** The FerretDB binary and command line the project's launcher uses. */
async function ferretDb(): Promise<{ binary: string; args: (dir: string) => string[] }> {
  const binary = await locateFerretDb(ROOT);
  if (!binary) throw new Error('no FerretDB 1.x (npm run db:install builds one into .tools/)');
  return { binary, args: (dir) => ferretDbArgs(dir, 27017, '0.0.0.0') };
}

/** A one-off client container on the network (traffic stays on the network). */
function client(network: string, base: string, script: string): unknown {
  const ran = podman(['run', '--rm', ...LIMITS, '--network', network, base, 'node', '-e', script], {
    timeoutMs: 120_000,
  });
  return JSON.parse(ran.stdout.trim().split('\n').at(-1) ?? 'null');
}

/** What a client does through NGINX: the README's first steps. */
const CLIENT_SCRIPT = `
const base = 'http://nginx';
const call = async (method, path, body, token) => {
  const res = await fetch(base + path, {
    method,
    headers: {
      ...(body ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: 'Bearer ' + token } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(30000),
  });
  return { status: res.status, requestId: res.headers.get('x-request-id'), json: await res.json().catch(() => null) };
};
(async () => {
  const org = { organization_name: 'Container ' + Date.now(), email: 'owner-' + Date.now() + '@example.test', password: 'correct horse battery staple' };
  const ready = await call('GET', '/health/ready');
  const created = await call('POST', '/org/create', org);
  const login = await call('POST', '/admin/login', { email: org.email, password: org.password });
  const got = await call('GET', '/org/get?organization_name=' + encodeURIComponent(org.organization_name), null, login.json?.access_token);
  const tooLarge = await fetch(base + '/org/create', { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(100 * 1024 + 1) });
  console.log(JSON.stringify({ ready, created: created.status, login: login.status, got: { status: got.status, owner: Boolean(got.json?.database_name) }, tooLarge: { status: tooLarge.status, type: tooLarge.headers.get('content-type') } }));
})().catch((error) => { console.log(JSON.stringify({ error: String(error) })); });
`;

async function waitHealthy(container: string, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    // The image's own HEALTHCHECK, run on demand (podman schedules it with
    // systemd timers, which a container host without systemd does not have).
    const probe = podman(['healthcheck', 'run', container], { allowFailure: true, quiet: true });
    if (probe.status === 0) return;
    if (inspect(container, '{{.State.Running}}') !== 'true') {
      podman(['logs', '--tail', '40', container], { allowFailure: true });
      throw new Error(`${container} exited before it was healthy`);
    }
    if (performance.now() > deadline)
      throw new Error(`${container} not healthy in ${timeoutMs} ms`);
    await sleep(250);
  }
}

async function main(): Promise<void> {
  mkdirSync(WORK, { recursive: true });
  const compose = parseYaml(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as {
    services: Record<string, ComposeService>;
  };
  const { app, nginx } = compose.services;

  // 1. Images the build and the run need.
  const { name: baseName, nodeVersion } = dockerfileBase();
  let t = performance.now();
  const base = ensureBaseImage(baseName, nodeVersion, WORK);
  figures.push(`base ${seconds(t)} s`);
  console.log(`base image: ${base}`);
  if (!imageExists(NGINX_IMAGE)) {
    podman([
      'build',
      '--pull=never',
      ...LIMITS,
      '--build-arg',
      `BASE=${baseName}`,
      '-f',
      join(ROOT, 'tools', 'container', 'nginx.Containerfile'),
      '-t',
      NGINX_IMAGE,
      WORK,
    ]);
  }
  console.log(`compose's ${nginx.image} stands in as ${NGINX_IMAGE} (Debian's NGINX)`);

  // 2. The real Dockerfile; docker format keeps its HEALTHCHECK (OCI has none).
  const build = () =>
    podman(['build', '--pull=never', '--format', 'docker', ...LIMITS, '-t', APP_IMAGE, ROOT], {
      timeoutMs: 20 * 60_000,
    });
  t = performance.now();
  build();
  figures.push(`build ${seconds(t)} s`);
  t = performance.now();
  build();
  figures.push(`rebuild ${seconds(t)} s`);
  const image = imageInspect(APP_IMAGE);
  const size = image.Size ?? 0;
  figures.push(`image ${Math.round(size / 1e6)} MB`);
  check(/^1000(:1000)?$/.test(image.User ?? ''), 'the image runs as uid 1000', image.User);
  check(
    (image.Healthcheck?.Test ?? []).join(' ').includes('/health/live'),
    'the image has a HEALTHCHECK on /health/live',
  );

  // 3. compose's services on a network of their own.
  const run = randomBytes(3).toString('hex');
  const network = `org-ci-${run}`;
  const name = (service: string) => `org-ci-${run}-${service}`;
  const scratch = mkdtempSync(join(WORK, 'run-'));
  const db = await ferretDb();
  podman(['network', 'create', network]);
  try {
    podman([
      'run',
      '-d',
      ...LIMITS,
      '--name',
      name('mongo'),
      '--network',
      network,
      '--network-alias',
      'mongo',
      '-v',
      `${db.binary}:/usr/local/bin/ferretdb:ro`,
      baseName,
      'sh',
      '-c',
      `mkdir -p /data && exec ferretdb ${db.args('/data').join(' ')}`,
    ]);

    // compose reads secrets from its env file; this run writes its own.
    const secrets = join(scratch, 'secrets.env');
    writeFileSync(secrets, `JWT_SECRET=${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    check(
      (app.env_file ?? []).some((f) => f.path === './secrets.env'),
      "compose's app reads its secrets from ./secrets.env",
    );
    const environment = Object.entries(app.environment ?? {}).flatMap(([k, v]) => [
      '-e',
      `${k}=${interpolate(String(v))}`,
    ]);
    const grace = Number.parseInt(app.stop_grace_period ?? '10s', 10);
    t = performance.now();
    podman([
      'run',
      '-d',
      ...LIMITS,
      '--name',
      name('app'),
      '--network',
      network,
      '--network-alias',
      'app',
      '--env-file',
      secrets,
      ...environment,
      '--stop-timeout',
      String(grace),
      APP_IMAGE,
    ]);
    await waitHealthy(name('app'), 120_000);
    const healthyAfter = seconds(t);
    figures.push(`start-to-healthy ${healthyAfter} s`);
    check(true, `the container is healthy (its HEALTHCHECK) ${healthyAfter} s after start`);

    const uid = /^Uid:\s+(\d+)/m.exec(
      podman(['exec', name('app'), 'cat', '/proc/1/status'], { quiet: true }).stdout,
    )?.[1];
    const users = podman(['top', name('app'), 'user'], { quiet: true })
      .stdout.trim()
      .split('\n')
      .slice(1);
    check(
      uid === '1000' && users.length > 0 && users.every((u) => u.trim() === 'node'),
      `the service runs as a non-root user (PID 1 uid ${uid}; processes: ${users.map((u) => u.trim()).join(', ')})`,
    );

    const mounts = (nginx.volumes ?? []).flatMap((volume) => {
      const [source, target, mode] = volume.split(':');
      return ['-v', `${resolve(ROOT, source)}:${target}${mode ? `:${mode}` : ''}`];
    });
    podman([
      'run',
      '-d',
      ...LIMITS,
      '--name',
      name('nginx'),
      '--network',
      network,
      '--network-alias',
      'nginx',
      ...mounts,
      NGINX_IMAGE,
    ]);
    await sleep(500);
    check(
      inspect(name('nginx'), '{{.State.Running}}') === 'true',
      "NGINX starts with compose's mounts",
    );

    const seen = client(network, baseName, CLIENT_SCRIPT) as {
      ready?: { status: number; requestId: string | null };
      created?: number;
      login?: number;
      got?: { status: number; owner: boolean };
      tooLarge?: { status: number; type: string | null };
      error?: string;
    };
    check(
      seen.ready?.status === 200 && /^[0-9a-f]{32}$/.test(seen.ready.requestId ?? ''),
      'through NGINX (upstream app:8080): /health/ready 200 with a request id from NGINX',
      seen,
    );
    check(
      seen.created === 201 && seen.login === 200 && seen.got?.status === 200 && seen.got.owner,
      'through NGINX: create an organization (201), log in (200), read the owner view (200)',
      seen,
    );
    check(
      seen.tooLarge?.status === 413 && /problem\+json/.test(seen.tooLarge.type ?? ''),
      "through NGINX: a body over 100 kB gets NGINX's 413 problem+json",
      seen.tooLarge,
    );

    // 4. SIGTERM, as `docker compose stop` sends it, with compose's grace period.
    t = performance.now();
    podman(['stop', '--time', String(grace), name('app')], { timeoutMs: (grace + 30) * 1000 });
    const stoppedAfter = seconds(t);
    figures.push(`SIGTERM stop ${stoppedAfter} s`);
    const exitCode = inspect(name('app'), '{{.State.ExitCode}}');
    const logs = podman(['logs', name('app')], { quiet: true });
    check(
      exitCode === '0' && stoppedAfter < grace && /primary exiting/.test(logs.stdout + logs.stderr),
      `on SIGTERM the service drains and exits 0 in ${stoppedAfter} s (grace period ${grace} s)`,
      { exitCode, stoppedAfter },
    );
  } finally {
    for (const service of ['nginx', 'app', 'mongo']) {
      podman(['rm', '-f', '-t', '0', name(service)], { allowFailure: true, quiet: true });
    }
    podman(['network', 'rm', '-f', network], { allowFailure: true, quiet: true });
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().then(
  () => {
    console.log(`container: summary: all ${checksPassed()} checks passed; ${figures.join(', ')}`);
  },
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    console.log(
      `container: summary: FAILED after ${checksPassed()} checks (${figures.join(', ')})`,
    );
    process.exitCode = 1;
  },
);
