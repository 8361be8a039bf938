// Proves the Elastic Beanstalk bundle the way the platform runs it, on loopback:
//
//  1. builds the bundle twice (`npm run package:eb`) and compares the archives;
//  2. checks the file list and modes (platform hooks executable), the Procfile,
//     the .ebextensions (rolling deploys, HTTPS redirect, timeouts), the EB CLI's
//     deploy artifact and docker-compose.yml;
//  3. unpacks the zip into a temp dir, runs its platform hooks as the platform
//     does (executed directly: a hook without its execute bit fails), and
//     installs production dependencies there (`npm ci --omit=dev`, what EB's
//     `npm install --production` does with a lock file);
//  4. starts the Procfile's `web` command with the bundle's own .ebextensions
//     environment (NODE_ENV=production, HOST, TRUST_PROXY ranges, 2 workers) behind
//     Debian's NGINX loaded with the bundle's .platform/nginx configuration inside
//     an nginx.conf shaped like the platform's (`nginx -t` first);
//  5. drives requests through NGINX and checks what the client got and what the
//     service logged: health, create, login, get, body limits, gzip, request
//     ids, client address, keep-alive, HSTS over TLS only, NGINX's own 504 for
//     a slow answer, no secrets in the logs;
//  6. kills a worker (it is replaced), then SIGTERMs the whole process group
//     with a slow request in flight (it completes; exit 0; NGINX answers 502
//     problem+json once the service is gone);
//  7. starts the bundle against an unreachable database (exit 1, fast, clear).
//
// Also checks that no development tooling ships: no tools/, no database
// launcher or FerretDB installer, no mongodb-memory-server.
//
// Usage: npm run smoke:eb -- [--skip-build] [--keep]
// Needs: nginx and unzip on PATH (.ci/run installs them), a MongoDB-compatible
// server (MONGODB_URI, mongod, or the FerretDB that .ci/run provides).
import { execFileSync, spawnSync, type ExecFileSyncOptions } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { request as httpRequest, Agent, type IncomingHttpHeaders } from 'node:http';
import { createRequire } from 'node:module';
import { createServer, connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import YAML from 'yaml';
import { launchMongo } from '../database/mongo-launcher';
import { freePort, PROJECT_ROOT, startService, type RunningService } from '../lib/service';

const root = PROJECT_ROOT;
const args = new Set(process.argv.slice(2));
const started = Date.now();

// Everything below is bounded; this is the bound on the whole run.
const WATCHDOG_MS = 6 * 60_000;
const watchdog = setTimeout(() => fail(`smoke test exceeded ${WATCHDOG_MS / 1000} s`), WATCHDOG_MS);
watchdog.unref();

/** Process groups started here: the last-resort kill reaches all of them. */
const children = new Set<RunningService>();
const cleanups: (() => Promise<void>)[] = [];
let checks = 0;
const work = mkdtempSync(join(tmpdir(), 'eb-smoke-'));

function log(message: string): void {
  console.log(`[eb-smoke +${((Date.now() - started) / 1000).toFixed(1)}s] ${message}`);
}

function check(condition: unknown, what: string, details?: unknown): void {
  if (!condition) {
    throw new Error(
      `FAILED: ${what}${details === undefined ? '' : `\n  got: ${typeof details === 'string' ? details : JSON.stringify(details)}`}`,
    );
  }
  checks++;
  log(`ok  ${what}`);
}

function fail(message: string): void {
  console.error(`\n[eb-smoke] ${message}`);
  void shutdownAll().finally(() => process.exit(1));
}

async function shutdownAll(): Promise<void> {
  for (const child of children) child.kill('SIGKILL');
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
}

function run(command: string, argv: string[], options: ExecFileSyncOptions = {}): string {
  return execFileSync(command, argv, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 5 * 60_000,
    ...options,
  }) as string;
}

async function waitFor<T>(
  what: string,
  condition: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs: number,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await Promise.resolve()
      .then(condition)
      .catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline)
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** NGINX in the foreground, in its own process group, output to `<work>/<name>.log`. */
async function startNginx(name: string, conf: string, port: number): Promise<RunningService> {
  const nginx = await startService({
    command: {
      file: findNginx(),
      args: ['-c', conf, '-p', `${work}/${name}/`, '-g', 'daemon off;'],
    },
    port,
    processGroup: true,
    logFile: join(work, `${name}.log`),
    readyPath: false,
  });
  children.add(nginx);
  void nginx.exited.then(() => children.delete(nginx));
  return nginx;
}

interface ProcfileWebOptions {
  app: string;
  env: Record<string, string | undefined>;
  web: string;
  port: number;
  ready?: boolean;
}

/**
 * The Procfile's web command as the platform runs it: through a shell in the
 * app directory (AL2023's /bin/sh is bash, which execs a lone command: `exec`
 * does that under dash too), in its own process group, which is what systemd
 * signals on stop. Resolves once it is ready unless `ready` is false.
 */
async function startProcfileWeb(
  name: string,
  { app, env, web, port, ready = true }: ProcfileWebOptions,
): Promise<RunningService> {
  const service = await startService({
    command: { file: '/bin/sh', args: ['-c', `exec ${web}`] },
    cwd: app,
    baseEnv: env,
    port,
    host: env.HOST,
    processGroup: true,
    logFile: join(work, `${name}.log`),
    readyPath: ready ? '/health/ready' : false,
    readyTimeoutMs: 60_000,
  });
  children.add(service);
  void service.exited.then(() => children.delete(service));
  return service;
}

/**
 * A parsed JSON answer or YAML file, read field by field by the checks (as the
 * e2e tests read supertest's bodies): its shape is what is being checked, so
 * it is not typed.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Parsed = any;

interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  raw: Buffer;
  json: Parsed;
}

interface HttpOptions {
  headers?: Record<string, string | number>;
  body?: unknown;
  agent?: Agent;
  timeoutMs?: number;
}

/** One HTTP request with a hard timeout; the body is returned raw (no decompression). */
function http(
  port: number,
  method: string,
  path: string,
  { headers = {}, body, agent, timeoutMs = 15_000 }: HttpOptions = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const payload =
      body === undefined
        ? undefined
        : Buffer.isBuffer(body)
          ? body
          : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent: agent ?? false,
        headers: {
          ...(payload
            ? { 'content-type': 'application/json', 'content-length': payload.length }
            : {}),
          ...headers,
        },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const raw = Buffer.concat(chunks);
          let json: Parsed;
          try {
            const text =
              res.headers['content-encoding'] === 'gzip'
                ? gunzipSync(raw).toString()
                : raw.toString();
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, raw, json });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

const isProblem = (res: HttpAnswer) =>
  /^application\/problem\+json/.test(res.headers['content-type'] ?? '');

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function findNginx(): string {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin']) {
    if (dir && existsSync(join(dir, 'nginx'))) return join(dir, 'nginx');
  }
  throw new Error('nginx is not installed (apt-get install nginx; .ci/run does it)');
}

/** The `KEY: value` pairs of one option namespace in an .ebextensions file. */
function ebOptionSettings(configFile: string, namespace: string): Record<string, string> {
  const parsed = YAML.parse(readFileSync(configFile, 'utf8')) as {
    option_settings?: Record<string, unknown>;
  } | null;
  const settings = parsed?.option_settings?.[namespace];
  if (!settings || typeof settings !== 'object') throw new Error(`${configFile}: no ${namespace}`);
  return Object.fromEntries(Object.entries(settings).map(([k, v]) => [k, String(v)]));
}

/** Socket states on a local TCP port, from /proc/net/tcp (hex port, state 06 = TIME_WAIT). */
function tcpStates(port: number): Record<string, number> {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const counts: Record<string, number> = {};
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(table)) continue;
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 4 || !fields[1].endsWith(`:${hexPort}`)) continue;
      counts[fields[3]] = (counts[fields[3]] ?? 0) + 1;
    }
  }
  return counts;
}

/** A line of the service's JSON log. */
interface LogLine {
  msg?: string;
  pid?: number;
  worker_pid?: number;
  code?: number;
  [key: string]: unknown;
}

function jsonLines(text: string): LogLine[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as LogLine];
      } catch {
        return [];
      }
    });
}

// ---------------------------------------------------------------------------

async function main() {
  log(`work dir ${work}`);
  const zip = join(root, 'release', 'org-management-service.zip');

  // 1. Build, twice: same commit, same bytes.
  if (!args.has('--skip-build')) {
    run('npm', ['run', '--silent', 'package:eb'], {
      cwd: root,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const first = sha256(zip);
    run('npm', ['run', '--silent', 'package:eb'], {
      cwd: root,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    check(sha256(zip) === first, 'the bundle is reproducible (two builds, identical sha256)', [
      first,
      sha256(zip),
    ]);
  }
  check(existsSync(zip), `bundle exists: ${zip.slice(root.length + 1)}`);

  // 2. Static checks.
  const files = run('unzip', ['-Z1', zip]).split('\n').filter(Boolean);
  const roots = new Set(files.map((f) => f.split('/')[0]));
  check(
    [...roots].every((r) =>
      [
        'dist',
        'package.json',
        'package-lock.json',
        'Procfile',
        '.platform',
        '.ebextensions',
      ].includes(r),
    ),
    'the zip holds only dist/, package.json, package-lock.json, Procfile, .platform/, .ebextensions/',
    [...roots],
  );
  for (const required of [
    'Procfile',
    'package.json',
    'package-lock.json',
    'dist/main.js',
    '.platform/nginx/conf.d/org-service.conf',
    '.platform/nginx/conf.d/org-service-upstream.conf',
    '.platform/nginx/conf.d/elasticbeanstalk/00_application.conf',
    '.platform/hooks/prebuild/01-node-version.sh',
    '.ebextensions/01-environment.config',
    '.ebextensions/02-https-only.config',
  ]) {
    check(files.includes(required), `the zip contains ${required}`);
  }
  const forbidden = files.filter((f) =>
    /(^|\/)(src|test|node_modules|\.tools|\.data|\.git)\/|(^|\/)\.env|\.ts$|\.map$|tsbuildinfo/.test(
      f,
    ),
  );
  check(
    forbidden.length === 0,
    'no sources, tests, maps, .env, tools or database files in the zip',
    forbidden,
  );
  // Development tooling never ships: the embedded-database launcher, the
  // FerretDB installer and the test harnesses live in tools/, compiled apart.
  const tooling = files.filter((f) =>
    /(^|\/)(tools|dist-tools|launcher)\/|mongo-launcher|ferretdb|memory-server|install-database/i.test(
      f,
    ),
  );
  check(
    tooling.length === 0,
    'no tooling in the zip (tools/, the database launcher, the FerretDB installer)',
    tooling,
  );
  const bundledPackage = JSON.parse(run('unzip', ['-p', zip, 'package.json']));
  const productionDependencies = Object.keys(bundledPackage.dependencies ?? {});
  check(
    !productionDependencies.some((name) => /mongodb-memory-server|ferretdb/.test(name)),
    "the bundle's production dependencies hold no development database (mongodb-memory-server)",
    productionDependencies,
  );

  // Modes as zipinfo lists them: hooks are executable, nothing else is.
  const modes = Object.fromEntries(
    run('unzip', ['-Z', '-l', zip])
      .split('\n')
      .flatMap((line) => {
        const match = /^([-rwx]{10})\s.*\s(\S+)$/.exec(line);
        return match ? [[match[2], match[1]] as const] : [];
      }),
  );
  const hooks = files.filter((f) => /^\.platform\/(hooks|confighooks)\//.test(f));
  check(
    hooks.length > 0 && hooks.every((f) => modes[f] === '-rwxr-xr-x'),
    `platform hooks keep their execute bit in the zip (${hooks.join(', ')})`,
    hooks.map((f) => `${modes[f]} ${f}`),
  );
  const others = files.filter((f) => !hooks.includes(f) && modes[f] !== '-rw-r--r--');
  check(others.length === 0, 'every other file in the zip is 0644', others);

  const app = join(work, 'app');
  mkdirSync(app);
  run('unzip', ['-q', zip, '-d', app]);
  const launcherCode = walkFiles(join(app, 'dist')).filter((file) =>
    /mongodb-memory-server|launchMongo|installFerretDb|\.tools\/bin/.test(
      readFileSync(file, 'utf8'),
    ),
  );
  check(
    launcherCode.length === 0,
    'no compiled file of the bundle refers to the database launcher or mongodb-memory-server',
    launcherCode,
  );
  runPlatformHooks(app);
  const procfile = readFileSync(join(app, 'Procfile'), 'utf8').split('\n').filter(Boolean);
  // The platform's rule for every Procfile line (EB docs, "Buildfile and Procfile").
  check(
    procfile.every((line) => /^[A-Za-z0-9_-]+:\s*[^\s].*$/.test(line)),
    'every Procfile line matches the platform pattern',
    procfile,
  );
  const web = procfile.find((line) => line.startsWith('web:'))?.replace(/^web:\s*/, '');
  check(Boolean(web), 'the Procfile has a web process', procfile);

  const ebEnv = ebOptionSettings(
    join(app, '.ebextensions', '01-environment.config'),
    'aws:elasticbeanstalk:application:environment',
  );
  const processDefaults = ebOptionSettings(
    join(app, '.ebextensions', '01-environment.config'),
    'aws:elasticbeanstalk:environment:process:default',
  );
  check(
    processDefaults.HealthCheckPath === '/health/ready',
    'the ALB health check points at readiness',
    processDefaults,
  );
  check(
    !Object.keys(ebEnv).some((k) => /SECRET|PASSWORD|MONGODB_URI/.test(k)),
    'no secrets in .ebextensions',
    Object.keys(ebEnv),
  );

  checkEbOptions(app);
  checkCompose();

  // 3. Production dependencies, as the platform installs them.
  log('npm ci --omit=dev in the unpacked bundle ...');
  run('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: app,
    env: { ...process.env, NODE_ENV: 'production' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  check(
    existsSync(join(app, 'node_modules', '@nestjs', 'core')),
    'production dependencies installed',
  );
  check(
    !existsSync(join(app, 'node_modules', 'jest')) &&
      !existsSync(join(app, 'node_modules', 'pino-pretty')) &&
      !existsSync(join(app, 'node_modules', 'mongodb-memory-server-core')),
    'no devDependencies installed',
  );
  const bundleRequire = createRequire(join(app, 'package.json'));
  const { BODY_LIMIT_BYTES } = bundleRequire('./dist/app.setup.js') as { BODY_LIMIT_BYTES: number };
  check(BODY_LIMIT_BYTES === 100 * 1024, `the service's body limit is ${BODY_LIMIT_BYTES} bytes`);

  // 4. Database, service and NGINX.
  const db = await startDatabase();
  const appPort = await freePort();
  const nginxPort = await freePort();
  const password = `Smoke-${randomBytes(6).toString('hex')}-pw`;
  const jwtSecret = randomBytes(48).toString('base64');
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: process.env.HOME ?? work,
    ...ebEnv, // what the bundle's .ebextensions sets on the environment
    PORT: String(appPort), // a free loopback port instead of 8080 (NGINX's upstream is rewritten to match)
    MONGODB_URI: db.uri,
    MASTER_DB_NAME: `smoke_${randomBytes(4).toString('hex')}`,
    JWT_SECRET: jwtSecret,
    WEB_CONCURRENCY: '2',
    BCRYPT_COST: '10',
    SHUTDOWN_TIMEOUT_MS: '10000',
  };
  check(
    env.NODE_ENV === 'production' &&
      env.HOST === '127.0.0.1' &&
      env.TRUST_PROXY?.split(',')[0] === 'loopback' &&
      !/^\d+$/.test(env.TRUST_PROXY ?? ''),
    'the bundle configures production, loopback-only and trusted proxy ranges (not a hop count)',
    ebEnv,
  );

  const nginxConf = writeNginxConfig(app, nginxPort, appPort);
  const nginx = findNginx();
  const tested = spawnSync(nginx, ['-t', '-c', nginxConf, '-p', `${work}/nginx/`], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  check(
    tested.status === 0 && /test is successful/.test(tested.stderr),
    "nginx -t accepts the bundle's .platform configuration",
    tested.stderr,
  );
  const nginxProc = await startNginx('nginx', nginxConf, nginxPort);
  cleanups.push(async () => {
    nginxProc.kill('SIGTERM');
    await Promise.race([nginxProc.exited, sleep(5000)]);
  });

  const service = await startProcfileWeb('service', { app, env, web: web!, port: appPort });
  const output = () => service.output();
  await waitFor(
    'the service to be ready through NGINX',
    async () => (await http(nginxPort, 'GET', '/health/ready')).status === 200,
    60_000,
    300,
  );
  log('service is ready behind NGINX');

  await driveRequests({
    nginxPort,
    appPort,
    password,
    jwtSecret,
    output,
    nginxLog: () => readFileSafe(join(work, 'nginx', 'access.log')),
  });
  await slowAnswerGets504(app);
  await crashAWorker({ nginxPort, output });
  await drainOnSigterm({ nginxPort, appPort, service, output });

  // 7. Fail fast without a database.
  await failsFastWithoutDatabase({ app, env, web: web! });

  await db.stop();
}

function walkFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walkFiles(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

async function startDatabase(): Promise<{ uri: string; stop(): Promise<void> }> {
  if (process.env.MONGODB_URI)
    return { uri: process.env.MONGODB_URI, stop: () => Promise.resolve() };
  // The launcher is tooling, never in the bundle; FerretDB comes from the repo's .tools/.
  const server = await launchMongo({
    persistent: false,
    kinds: ['mongod', 'ferretdb'],
    projectRoot: root,
    log: (m) => log(`[db] ${m}`),
  });
  cleanups.push(() => server.stop());
  return server;
}

/**
 * nginx.conf shaped like the platform's (Amazon Linux 2023, Node.js): our conf.d
 * files in `http`, our conf.d/elasticbeanstalk files in the default `server`,
 * next to the directives the platform's server block sets itself, so a
 * duplicate directive in our files fails here as it would on EB.
 */
function writeNginxConfig(
  app: string,
  nginxPort: number,
  appPort: number,
  { name = 'nginx', edit }: { name?: string; edit?: (confD: string) => void } = {},
): string {
  const prefix = join(work, name);
  const confD = join(prefix, 'conf.d');
  mkdirSync(prefix, { recursive: true });
  cpSync(join(app, '.platform', 'nginx', 'conf.d'), confD, { recursive: true });
  const upstreamFile = join(confD, 'org-service-upstream.conf');
  const upstream = readFileSync(upstreamFile, 'utf8');
  if (name === 'nginx') {
    check(
      (upstream.match(/server 127\.0\.0\.1:8080;/g) ?? []).length === 1,
      'the NGINX upstream is 127.0.0.1:8080, the PORT .ebextensions sets',
    );
  }
  writeFileSync(
    upstreamFile,
    upstream.replace('server 127.0.0.1:8080;', `server 127.0.0.1:${appPort};`),
  );
  edit?.(confD);
  for (const dir of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'])
    mkdirSync(join(prefix, 'tmp', dir), { recursive: true });
  const asRoot = process.getuid?.() === 0;
  const conf = `${asRoot ? 'user root;\n' : ''}worker_processes 2;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 256; }
http {
    server_tokens off;
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    client_body_temp_path ${prefix}/tmp/client_body;
    proxy_temp_path ${prefix}/tmp/proxy;
    fastcgi_temp_path ${prefix}/tmp/fastcgi;
    uwsgi_temp_path ${prefix}/tmp/uwsgi;
    scgi_temp_path ${prefix}/tmp/scgi;
    log_format main '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for"';
    include ${confD}/*.conf;
    map $http_upgrade $connection_upgrade { default "upgrade"; }
    server {
        listen 127.0.0.1:${nginxPort} default_server;
        access_log ${prefix}/access.log main;
        client_header_timeout 60;
        client_body_timeout 60;
        keepalive_timeout 60;
        gzip off;
        gzip_comp_level 4;
        include ${confD}/elasticbeanstalk/*.conf;
    }
}
`;
  const file = join(prefix, 'nginx.conf');
  writeFileSync(file, conf);
  return file;
}

/**
 * Runs the bundle's platform hooks as the platform does before it installs
 * dependencies: each file of .platform/hooks/prebuild in name order, executed
 * directly in the app directory, so a hook that lost its execute bit fails.
 * Then the Node version hook once more against an engines range this Node
 * does not satisfy: it must stop the deploy.
 */
function runPlatformHooks(app: string): void {
  const dir = join(app, '.platform', 'hooks', 'prebuild');
  const hooks = readdirSync(dir).sort();
  const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}` };
  for (const hook of hooks) {
    const ran = spawnSync(join(dir, hook), [], {
      cwd: app,
      env,
      encoding: 'utf8',
      timeout: 30_000,
    });
    check(
      ran.status === 0,
      `the prebuild hook ${hook} runs as the platform runs it and succeeds: ${(ran.stdout ?? '').trim()}`,
      ran.error?.message ?? ran.stderr,
    );
  }
  const wrongPlatform = join(work, 'wrong-platform');
  mkdirSync(wrongPlatform);
  const pkg = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8'));
  const major = Number(process.versions.node.split('.')[0]);
  pkg.engines.node = `>=${major + 1}.0.0 <${major + 2}`;
  writeFileSync(join(wrongPlatform, 'package.json'), JSON.stringify(pkg));
  const refused = spawnSync(join(dir, '01-node-version.sh'), [], {
    cwd: wrongPlatform,
    env,
    encoding: 'utf8',
    timeout: 30_000,
  });
  check(
    refused.status === 1 && /choose the platform branch "Node\.js \d+/.test(refused.stderr),
    'on a platform branch with the wrong Node.js the hook stops the deploy with a clear message',
    { status: refused.status, stderr: refused.stderr },
  );
}

/** Seconds in an NGINX time value of the given directive ("75s", "60"), in one file. */
function nginxSeconds(text: string, directive: string): number {
  const match = new RegExp(`^\\s*${directive}\\s+(\\d+)s?;`, 'm').exec(text);
  return match ? Number(match[1]) : NaN;
}

/** Deploy policy, HTTPS redirect, timeouts and the EB CLI's artifact. */
function checkEbOptions(app: string): void {
  const config = join(app, '.ebextensions', '01-environment.config');
  const command = ebOptionSettings(config, 'aws:elasticbeanstalk:command');
  check(
    ['Rolling', 'RollingWithAdditionalBatch', 'Immutable'].includes(command.DeploymentPolicy) &&
      Number(command.BatchSize) >= 1 &&
      ['Fixed', 'Percentage'].includes(command.BatchSizeType),
    `deploys are ${command.DeploymentPolicy}, ${command.BatchSize} (${command.BatchSizeType}) at a time`,
    command,
  );
  const idle = Number(ebOptionSettings(config, 'aws:elbv2:loadbalancer').IdleTimeout);
  const location = readFileSync(
    join(app, '.platform', 'nginx', 'conf.d', 'elasticbeanstalk', '00_application.conf'),
    'utf8',
  );
  const keepalive = nginxSeconds(location, 'keepalive_timeout');
  const read = nginxSeconds(location, 'proxy_read_timeout');
  check(
    idle > 0 && keepalive > idle && read < idle,
    `the ALB idle timeout (${idle} s) is the shortest in the chain: NGINX keep-alive ${keepalive} s, NGINX gives up on Node after ${read} s`,
    { idle, keepalive, read },
  );
  const https = YAML.parse(
    readFileSync(join(app, '.ebextensions', '02-https-only.config'), 'utf8'),
  );
  const listener = https?.Resources?.AWSEBV2LoadBalancerListener?.Properties;
  const redirect = listener?.DefaultActions?.[0];
  check(
    listener?.Port === 80 &&
      redirect?.Type === 'redirect' &&
      redirect.RedirectConfig?.Protocol === 'HTTPS' &&
      redirect.RedirectConfig?.Port === '443' &&
      redirect.RedirectConfig?.StatusCode === 'HTTP_301',
    "the load balancer's port 80 listener redirects to HTTPS (301)",
    listener,
  );
  const ebCli = YAML.parse(readFileSync(join(root, '.elasticbeanstalk', 'config.yml'), 'utf8'));
  check(
    ebCli?.deploy?.artifact === 'release/org-management-service.zip',
    'the EB CLI deploys the built zip (.elasticbeanstalk/config.yml deploy.artifact)',
    ebCli?.deploy,
  );
}

/**
 * A second NGINX with the bundle's configuration in front of a server that
 * accepts connections and never answers, its proxy_read_timeout cut to 1 s:
 * the client gets NGINX's own 504, as problem+json with the request id.
 */
async function slowAnswerGets504(app: string): Promise<void> {
  const silent = createServer(() => undefined);
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const port = await freePort();
  const conf = writeNginxConfig(app, port, (silent.address() as AddressInfo).port, {
    name: 'nginx-504',
    edit: (confD) => {
      const file = join(confD, 'elasticbeanstalk', '00_application.conf');
      writeFileSync(
        file,
        readFileSync(file, 'utf8').replace(/proxy_read_timeout \d+s;/, 'proxy_read_timeout 1s;'),
      );
    },
  });
  const proc = await startNginx('nginx-504', conf, port);
  try {
    await waitFor('the second NGINX', () => refused(port).then((r) => !r), 10_000, 100);
    const res = await http(port, 'GET', '/org/list', { headers: { 'x-request-id': 'smoke-504' } });
    check(
      res.status === 504 &&
        isProblem(res) &&
        res.json?.status === 504 &&
        res.json?.request_id === 'smoke-504',
      "a slow answer from Node gets NGINX's 504 as problem+json with the request id",
      { status: res.status, body: res.raw.toString().slice(0, 200) },
    );
  } finally {
    proc.kill('SIGTERM');
    await Promise.race([proc.exited, sleep(5000)]);
    silent.close();
  }
}

function checkCompose() {
  const compose = YAML.parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'));
  const { mongo, app, nginx } = compose.services ?? {};
  check(/^mongo:7(\.|$)/.test(mongo?.image ?? ''), 'docker-compose: MongoDB 7', mongo?.image);
  const volume = ((mongo?.volumes ?? []) as unknown[])
    .map(String)
    .find((v) => v.endsWith(':/data/db'));
  check(
    volume !== undefined && Object.hasOwn(compose.volumes ?? {}, volume.split(':')[0]),
    'docker-compose: MongoDB data on a named volume',
    mongo?.volumes,
  );
  check(
    /^mongodb:\/\/mongo[:/]/.test(app?.environment?.MONGODB_URI ?? ''),
    'docker-compose: the service reaches MongoDB through MONGODB_URI',
    app?.environment,
  );
  check(
    nginx?.network_mode === undefined &&
      app?.network_mode === undefined &&
      /^[ \t]*server app:8080;/m.test(
        readFileSync(join(root, 'docker/nginx/default.conf'), 'utf8'),
      ),
    'docker-compose: NGINX on the compose network, its upstream the app by service name',
  );
  const composeText = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
  check(
    !/\$\{[A-Z_]+:?\?/.test(composeText) &&
      ((app?.env_file ?? []) as Parsed[]).some(
        (f) => f?.path === './secrets.env' && f?.required === false,
      ),
    'docker-compose: secrets from an optional env file, no required variable (ps, logs, down work without it)',
    app?.env_file,
  );
  const mounts = ((nginx?.volumes ?? []) as unknown[]).map((v) => String(v).split(':')[0]);
  for (const path of [
    './.platform/nginx/conf.d/org-service.conf',
    './.platform/nginx/conf.d/elasticbeanstalk',
    './docker/nginx/default.conf',
  ]) {
    check(
      mounts.includes(path) && existsSync(join(root, path)),
      `docker-compose: NGINX mounts ${path}`,
      mounts,
    );
  }
  // One instruction per line: join backslash continuations.
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const engines = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).engines
    .node as string;
  const nodeVersion = /^ARG NODE_VERSION=(\d+)\.(\d+)\.(\d+)/m.exec(dockerfile);
  const range = /^>=(\d+)\.(\d+)\.(\d+) <(\d+)$/.exec(engines);
  check(
    Boolean(nodeVersion && range),
    'Dockerfile pins NODE_VERSION and package.json engines is ">=x.y.z <N"',
    [nodeVersion?.[0], engines],
  );
  const [major, minor, patch] = nodeVersion!.slice(1).map(Number);
  const [lo1, lo2, lo3, hi] = range!.slice(1).map(Number);
  const atLeast = major !== lo1 ? major > lo1 : minor !== lo2 ? minor > lo2 : patch >= lo3;
  check(
    atLeast && major < hi,
    `Dockerfile's Node ${major}.${minor}.${patch} satisfies engines "${engines}"`,
  );
  const user = /^USER (\S+)$/gm;
  const users = [...dockerfile.matchAll(user)].map((m) => m[1]);
  check(
    users.length > 0 && !/^(0|root)(:|$)/.test(users.at(-1)!),
    'Dockerfile runs as a non-root user',
    users,
  );
  check(
    /^HEALTHCHECK .*\/health\/live/m.test(dockerfile),
    'Dockerfile HEALTHCHECK probes /health/live',
  );
  check(
    /release\/bundle/.test(dockerfile),
    'Dockerfile ships the same release/bundle layout as the zip',
  );
}

interface Drive {
  nginxPort: number;
  appPort: number;
  password: string;
  jwtSecret: string;
  output: () => string;
  nginxLog: () => string;
}

async function driveRequests({ nginxPort, appPort, password, jwtSecret, output, nginxLog }: Drive) {
  const tag = randomBytes(3).toString('hex');
  const live = await http(nginxPort, 'GET', '/health/live');
  check(
    live.status === 200 && live.json?.status === 'ok',
    'GET /health/live through NGINX: 200',
    live.status,
  );
  const ready = await http(nginxPort, 'GET', '/health/ready');
  check(
    ready.status === 200 && ready.json?.info?.database?.status === 'up',
    'GET /health/ready: 200 with the database up',
    ready.json,
  );

  const org = { organization_name: `Smoke ${tag}`, email: `owner-${tag}@example.test`, password };
  const createId = `smoke-create-${tag}`;
  const created = await http(nginxPort, 'POST', '/org/create', {
    body: org,
    // The smoke client plays the load balancer: it forwards a client address
    // (198.51.100.7) behind an entry the client itself made up (203.0.113.66).
    headers: {
      'x-request-id': createId,
      'x-forwarded-for': '203.0.113.66, 198.51.100.7',
      'x-forwarded-proto': 'https',
    },
  });
  check(
    created.status === 201 && created.json?.database_name,
    'POST /org/create through NGINX: 201',
    created.json ?? created.status,
  );
  check(
    created.headers['x-request-id'] === createId,
    "the response carries the caller's X-Request-Id",
    created.headers['x-request-id'],
  );
  check(
    /^max-age=\d+/.test(created.headers['strict-transport-security'] ?? ''),
    'a request that came over TLS (X-Forwarded-Proto https from the load balancer) gets HSTS',
    created.headers['strict-transport-security'],
  );
  const plain = await http(nginxPort, 'GET', '/', { headers: { 'x-forwarded-proto': 'http' } });
  check(
    plain.status === 200 && plain.headers['strict-transport-security'] === undefined,
    'a request that came over plain HTTP gets no HSTS',
    plain.headers['strict-transport-security'],
  );

  const login = await http(nginxPort, 'POST', '/admin/login', {
    body: { email: org.email, password },
  });
  const token = login.json?.access_token;
  check(
    login.status === 200 && typeof token === 'string',
    'POST /admin/login: 200 with a token',
    login.status,
  );

  const got = await http(
    nginxPort,
    'GET',
    `/org/get?organization_name=${encodeURIComponent(org.organization_name)}`,
    {
      headers: { authorization: `Bearer ${token}` },
    },
  );
  check(
    got.status === 200 && got.json?.database_name === created.json.database_name,
    'GET /org/get with the token: 200, owner view',
    got.json ?? got.status,
  );

  // Body limits: NGINX and the service agree on 100 kB.
  const limit = 100 * 1024;
  const padded = (size: number) => {
    const head = '{"organization_name":"';
    const tail = '","email":"x@example.test","password":"irrelevant"}';
    return head + 'a'.repeat(size - head.length - tail.length) + tail;
  };
  const atLimit = await http(nginxPort, 'POST', '/org/create', { body: padded(limit) });
  check(
    atLimit.status === 400 && isProblem(atLimit),
    'a body of exactly 100 kB passes NGINX and reaches the service (400 problem+json)',
    atLimit.status,
  );
  const overId = `smoke-413-${tag}`;
  const over = await http(nginxPort, 'POST', '/org/create', {
    body: padded(limit + 1),
    headers: { 'x-request-id': overId },
  });
  check(
    over.status === 413 &&
      isProblem(over) &&
      over.json?.code === 'PAYLOAD_TOO_LARGE' &&
      over.json?.request_id === overId,
    'a body of 100 kB + 1 byte: 413 problem+json from NGINX with the request id',
    {
      status: over.status,
      type: over.headers['content-type'],
      body: over.raw.toString().slice(0, 200),
    },
  );
  const overDirect = await http(appPort, 'POST', '/org/create', { body: padded(limit + 1) });
  check(
    overDirect.status === 413 &&
      isProblem(overDirect) &&
      overDirect.json?.code === 'PAYLOAD_TOO_LARGE',
    'the same body sent to the service itself: 413 problem+json from the service',
    { status: overDirect.status, body: overDirect.raw.toString().slice(0, 200) },
  );

  // gzip for JSON.
  const docs = await http(nginxPort, 'GET', '/docs-json', {
    headers: { 'accept-encoding': 'gzip' },
  });
  check(
    docs.status === 200 &&
      docs.headers['content-encoding'] === 'gzip' &&
      typeof docs.json?.openapi === 'string',
    `JSON is gzipped by NGINX (${docs.raw.length} bytes on the wire)`,
    { status: docs.status, encoding: docs.headers['content-encoding'] },
  );

  // Request ids NGINX generates, and unsafe ones it replaces.
  const generated = await http(nginxPort, 'GET', '/');
  check(
    /^[0-9a-f]{32}$/.test(String(generated.headers['x-request-id'] ?? '')),
    'without X-Request-Id, NGINX generates one and the service uses it',
    generated.headers['x-request-id'],
  );
  const unsafe = await http(nginxPort, 'GET', '/', { headers: { 'x-request-id': 'bad"id' } });
  check(
    /^[0-9a-f]{32}$/.test(String(unsafe.headers['x-request-id'] ?? '')),
    'an unsafe X-Request-Id is replaced by NGINX',
    unsafe.headers['x-request-id'],
  );

  // Keep-alive to the upstream: sequential requests reuse NGINX's connections,
  // so the service port does not pile up TIME_WAIT sockets.
  const before = tcpStates(appPort)['06'] ?? 0;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  for (let i = 0; i < 30; i++) await http(nginxPort, 'GET', '/health/live', { agent });
  agent.destroy();
  await sleep(200);
  const after = tcpStates(appPort)['06'] ?? 0;
  check(
    after - before <= 3,
    `NGINX keeps upstream connections alive (TIME_WAIT on the service port: ${before} -> ${after} over 30 requests)`,
  );

  // What the service saw and logged.
  await sleep(300);
  const lines = jsonLines(output());
  const createLine = lines.find((l) => l.request_id === createId && l.status !== undefined);
  check(
    createLine?.client_ip === '198.51.100.7' &&
      createLine?.method === 'POST' &&
      createLine?.route === '/org/create' &&
      createLine?.status === 201 &&
      typeof createLine?.duration_ms === 'number',
    'the service logged the create with the client address from X-Forwarded-For (not the spoofed entry) and the request id',
    createLine,
  );
  const requestLines = lines.filter((l) => l.request_id && l.status !== undefined);
  check(
    requestLines.length >= 8,
    `one JSON line per request (${requestLines.length} request lines)`,
  );

  const everything = output() + nginxLog();
  const leaked = [password, token, jwtSecret, token.split('.')[2]].filter((secret) =>
    everything.includes(secret),
  );
  check(
    leaked.length === 0,
    'no password, token or JWT secret in the service or NGINX logs',
    leaked.map((s) => s.slice(0, 6) + '...'),
  );
}

async function crashAWorker({ nginxPort, output }: Pick<Drive, 'nginxPort' | 'output'>) {
  const listening = () =>
    jsonLines(output())
      .filter((l) => l.msg === 'Worker listening')
      .flatMap((l) => (l.worker_pid === undefined ? [] : [l.worker_pid]));
  const workers = await waitFor(
    'two workers to listen',
    () => (new Set(listening()).size >= 2 ? [...new Set(listening())] : undefined),
    20_000,
  );
  check(workers.length === 2, `WEB_CONCURRENCY=2 started two workers (pids ${workers.join(', ')})`);
  const victim = workers[0];
  process.kill(victim, 'SIGKILL');
  const replacement = await waitFor(
    'a replacement worker',
    () => listening().find((pid) => !workers.includes(pid)),
    30_000,
  );
  const died = jsonLines(output()).some(
    (l) => l.worker_pid === victim && /died unexpectedly/.test(l.msg ?? ''),
  );
  check(
    died && Boolean(replacement),
    `a killed worker (${victim}) is logged and replaced (${replacement})`,
  );
  const health = await http(nginxPort, 'GET', '/health/ready');
  check(health.status === 200, 'the service still answers after the crash');
}

async function drainOnSigterm({
  nginxPort,
  appPort,
  service,
  output,
}: Pick<Drive, 'nginxPort' | 'appPort' | 'output'> & { service: RunningService }) {
  // A login whose body arrives slowly: in flight on a worker when SIGTERM lands.
  // (Sent to the service directly: NGINX would buffer the body and hide the delay.)
  const body = Buffer.from(
    JSON.stringify({ email: 'nobody@example.test', password: 'not the password' }),
  );
  const slow = new Promise<{ status?: number; body: string }>((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: appPort,
        method: 'POST',
        path: '/admin/login',
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': body.length },
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }),
        );
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('slow request timed out')));
    req.write(body.subarray(0, 5));
    setTimeout(() => req.end(body.subarray(5)), 2500);
  });
  await sleep(500);
  const pids = [
    ...new Set(jsonLines(output()).flatMap((l) => (l.pid === undefined ? [] : [l.pid]))),
  ];
  // systemd stops the web service by signalling its whole control group; so do we.
  service.kill('SIGTERM');
  const sigtermAt = Date.now();

  await waitFor('the service port to refuse new connections', () => refused(appPort), 5000, 100);
  check(true, 'after SIGTERM the service stops accepting connections');
  const gone = await http(nginxPort, 'GET', '/health/live', {
    headers: { 'x-request-id': 'smoke-502' },
  });
  check(
    gone.status === 502 &&
      isProblem(gone) &&
      gone.json?.request_id === 'smoke-502' &&
      gone.headers['x-request-id'] === 'smoke-502',
    'NGINX answers 502 problem+json with the request id while the service is down',
    { status: gone.status, body: gone.raw.toString().slice(0, 200) },
  );

  const answered = await slow;
  check(
    answered.status === 401 && /INVALID_CREDENTIALS/.test(answered.body),
    `the request in flight during SIGTERM completed (${answered.status} after ${Date.now() - sigtermAt} ms)`,
    answered,
  );

  const { code, signal } = await Promise.race([
    service.exited,
    sleep(20_000).then(() => ({ code: 'timeout', signal: null })),
  ]);
  check(code === 0 && signal === null, 'the service drained and exited 0', { code, signal });
  const alive = pids.filter((pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  });
  check(
    alive.length === 0,
    `no process of the service is left (${pids.length} pids checked)`,
    alive,
  );
  const lines = jsonLines(output());
  check(
    lines.filter((l) => /^Shutdown complete/.test(l.msg ?? '')).length >= 2 &&
      lines.some((l) => /primary exiting/.test(l.msg ?? '') && l.code === 0),
    'every worker drained and the primary exited cleanly',
  );
}

async function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

async function failsFastWithoutDatabase({
  app,
  env,
  web,
}: Pick<ProcfileWebOptions, 'app' | 'env' | 'web'>) {
  const closedPort = await freePort();
  const dbPassword = `db-pw-${randomBytes(4).toString('hex')}`;
  const proc = await startProcfileWeb('no-database', {
    app,
    env: {
      ...env,
      MONGODB_URI: `mongodb://app:${dbPassword}@127.0.0.1:${closedPort}/`,
      DB_STARTUP_TIMEOUT_MS: '1500',
    },
    web,
    port: await freePort(),
    ready: false,
  });
  const t0 = Date.now();
  const { code } = await Promise.race([
    proc.exited,
    sleep(30_000).then(() => ({ code: 'timeout' })),
  ]);
  const seconds = (Date.now() - t0) / 1000;
  const text = proc.output();
  check(
    code === 1 && seconds < 15,
    `with the database unreachable the start fails with exit 1 in ${seconds.toFixed(1)} s`,
    { code, tail: text.slice(-300) },
  );
  check(
    /Cannot reach the database at 127\.0\.0\.1:\d+ within 1500 ms/.test(text),
    'the failure names the database host and the timeout',
    text.slice(-400),
  );
  check(!text.includes(dbPassword), 'the failure message does not print the database password');
}

main().then(
  async () => {
    clearTimeout(watchdog);
    await shutdownAll();
    if (!args.has('--keep')) rmSync(work, { recursive: true, force: true });
    log(`eb-smoke: all ${checks} checks OK`);
    process.exit(0);
  },
  async (error) => {
    console.error(`\n[eb-smoke] ${error.stack ?? error}`);
    for (const name of readdirSync(work).filter((f) => f.endsWith('.log'))) {
      console.error(
        `\n--- ${name} (last 40 lines) ---\n${readFileSync(join(work, name), 'utf8').split('\n').slice(-40).join('\n')}`,
      );
    }
    const nginxErrors = readFileSafe(join(work, 'nginx', 'error.log'));
    if (nginxErrors)
      console.error(`\n--- nginx error.log ---\n${nginxErrors.split('\n').slice(-20).join('\n')}`);
    console.error(`\n[eb-smoke] kept ${work} for inspection`);
    await shutdownAll();
    process.exit(1);
  },
);
