/**
 * The one way tools and tests start a process of the service (or any HTTP
 * server they measure against it) and pick its port: the crash test, torture,
 * soak, fuzz, the docs browser test, the Elastic Beanstalk smoke test and the
 * benchmarks. Only processes started here are ever signalled.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { launchMongo, type LaunchedMongo } from '../database/mongo-launcher';
import { findProjectRoot } from '../database/project-root.util';
import { freePort, LOOPBACK } from './port';

export { freePort, LOOPBACK };
export const PROJECT_ROOT = findProjectRoot(__dirname);

/** The service's compiled entry point, or an error saying how to get it. */
export function serviceEntry(distDir: string = join(PROJECT_ROOT, 'dist')): string {
  const entry = join(distDir, 'main.js');
  if (!existsSync(entry)) {
    throw new Error(`${entry} is missing: run \`npm run build\` first`);
  }
  return entry;
}

export interface StartServiceOptions {
  /** Script run with this Node; default the built service, `dist/main.js`. */
  entry?: string;
  /** A command instead of `node <entry>` (the Procfile's line through a shell). */
  command?: { file: string; args: string[] };
  cwd?: string;
  /** Node options before the script (a profiler preload). */
  nodeArgs?: string[];
  /** MONGODB_URI of the service; unset keeps what `baseEnv` has. */
  mongodbUri?: string;
  /** The environment `env` is laid over; default this process's. */
  baseEnv?: NodeJS.ProcessEnv;
  /** Variables over `baseEnv`; `undefined` removes one. */
  env?: Record<string, string | undefined>;
  /** Default: a free loopback port. */
  port?: number;
  host?: string;
  /**
   * Pass `port` and `host` as PORT and HOST (default). `false` when the
   * process finds them itself (a `.env`): then they only say where to probe.
   */
  passAddress?: boolean;
  /** Also append the output to this file. */
  logFile?: string;
  /** Every chunk of output as it arrives (to echo it while debugging). */
  onOutput?: (chunk: string) => void;
  /** Its own process group: `kill()` reaches every process of it, as systemd's stop does. */
  processGroup?: boolean;
  /** An IPC channel (the benchmarks' profiler). */
  ipc?: boolean;
  /** Wait until this path answers 200; `false` returns at once. Default `/health/ready`. */
  readyPath?: string | false;
  readyTimeoutMs?: number;
  readyPollMs?: number;
}

export interface ServiceExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunningService {
  /** Base URL, `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Milliseconds from spawn to the first 200 from the ready path (0 without one). */
  readonly readyMs: number;
  readonly exited: Promise<ServiceExit>;
  running(): boolean;
  /** Everything it printed (the last 2000 chunks), stdout and stderr interleaved. */
  output(): string;
  /** Resolves with the first match of `pattern` in the output. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** RSS of the serving processes: the workers of a cluster primary, else the process itself. */
  rss(): { pid: number; rss: number }[];
  /** Sends a signal (to the whole group with `processGroup`); SIGKILL by default. */
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM, SIGKILL after `graceMs`; resolves with how it ended. */
  stop(graceMs?: number): Promise<ServiceExit>;
}

/**
 * Spawns a process of the service with PORT, HOST and MONGODB_URI set and,
 * unless told otherwise, resolves once `/health/ready` answers 200. If it
 * exits first or is not ready in time, rejects with its output.
 */
export async function startService(options: StartServiceOptions = {}): Promise<RunningService> {
  const host = options.host ?? LOOPBACK;
  const port = options.port ?? (await freePort(host));
  const env: NodeJS.ProcessEnv = { ...(options.baseEnv ?? process.env) };
  const overrides: Record<string, string | undefined> = {
    ...(options.passAddress !== false ? { PORT: String(port), HOST: host } : {}),
    ...(options.mongodbUri !== undefined ? { MONGODB_URI: options.mongodbUri } : {}),
    ...options.env,
  };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  const [file, args] = options.command
    ? [options.command.file, options.command.args]
    : [process.execPath, [...(options.nodeArgs ?? []), options.entry ?? serviceEntry()]];

  const spawnedAt = performance.now();
  const child = spawn(file, args, {
    cwd: options.cwd,
    env,
    detached: options.processGroup === true,
    stdio: options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  const chunks: string[] = [];
  const listeners = new Set<() => void>();
  const keep = (data: Buffer) => {
    const chunk = data.toString();
    chunks.push(chunk);
    if (chunks.length > 2000) chunks.splice(0, chunks.length - 2000);
    if (options.logFile !== undefined) appendFileSync(options.logFile, chunk);
    options.onOutput?.(chunk);
    for (const listener of listeners) listener();
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exitInfo: ServiceExit | undefined;
  const exited = new Promise<ServiceExit>((resolve) => {
    child.once('error', () => resolve({ code: null, signal: null }));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  }).then((info) => (exitInfo = info));
  const output = () => chunks.join('');
  const running = () => exitInfo === undefined;
  const kill = (signal: NodeJS.Signals = 'SIGKILL') => {
    if (!running() || child.pid === undefined) return;
    try {
      process.kill(options.processGroup ? -child.pid : child.pid, signal);
    } catch {
      // Gone meanwhile.
    }
  };
  const stop = async (graceMs = 20_000): Promise<ServiceExit> => {
    if (!running()) return exited;
    kill('SIGCONT'); // a paused process cannot handle SIGTERM
    kill('SIGTERM');
    const timer = setTimeout(() => kill('SIGKILL'), graceMs);
    const info = await exited;
    clearTimeout(timer);
    return info;
  };

  let readyMs = 0;
  if (options.readyPath !== false) {
    const url = `http://${host === '0.0.0.0' ? LOOPBACK : host}:${port}${options.readyPath ?? '/health/ready'}`;
    const timeoutMs = options.readyTimeoutMs ?? 90_000;
    const deadline = spawnedAt + timeoutMs;
    for (;;) {
      if (!running()) {
        throw new Error(
          `${file} ${args.join(' ')} exited (${describe(exitInfo!)}) before it was ready:\n${output()}`,
        );
      }
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
        await res.arrayBuffer();
        if (res.status === 200) break;
      } catch {
        // Not listening yet.
      }
      if (performance.now() > deadline) {
        await stop(5000);
        throw new Error(`${url} did not answer 200 within ${timeoutMs} ms:\n${output()}`);
      }
      await sleep(options.readyPollMs ?? 100);
    }
    readyMs = performance.now() - spawnedAt;
  }

  return {
    url: `http://${LOOPBACK}:${port}`,
    port,
    pid: child.pid!,
    child,
    readyMs,
    exited,
    running,
    output,
    waitForOutput: (pattern, timeoutMs = 60_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(output());
          if (!match) return;
          listeners.delete(check);
          clearTimeout(timer);
          resolve(match);
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`no ${String(pattern)} in the output within ${timeoutMs} ms`));
        }, timeoutMs);
        listeners.add(check);
        check();
      }),
    rss: () => {
      const workers = childrenOf(child.pid!);
      return (workers.length > 0 ? workers : [child.pid!]).flatMap((pid) => {
        const rss = rssOf(pid);
        return rss === undefined ? [] : [{ pid, rss }];
      });
    },
    kill,
    stop,
  };
}

export interface ServiceWithDatabase extends RunningService {
  readonly db: LaunchedMongo;
}

/**
 * The built service as production runs it (NODE_ENV=production, a random
 * JWT secret, its own master database) against a fresh database from the
 * launcher (or MONGODB_URI). `stop()` stops both.
 */
export async function startServiceWithDatabase(
  options: StartServiceOptions & { log?: (message: string) => void } = {},
): Promise<ServiceWithDatabase> {
  const db = await launchMongo({ persistent: false, log: options.log });
  try {
    const service = await startService({
      ...options,
      mongodbUri: db.uri,
      env: {
        NODE_ENV: 'production',
        MASTER_DB_NAME: `run_${randomBytes(4).toString('hex')}`,
        // Hex cannot spell a placeholder word, which production refuses.
        JWT_SECRET: randomBytes(32).toString('hex'),
        BCRYPT_COST: '10',
        LOG_LEVEL: 'warn',
        CORS_ORIGINS: '',
        ...options.env,
      },
    });
    return {
      ...service,
      db,
      stop: async (graceMs) => {
        const exit = await service.stop(graceMs);
        await db.stop();
        return exit;
      },
    };
  } catch (error) {
    await db.stop();
    throw error;
  }
}

/** Resident set size in bytes of a process (Linux /proc), or undefined once it is gone. */
export function rssOf(pid: number): number | undefined {
  try {
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return kb ? Number(kb[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Pids of a process's children (the cluster workers of a primary). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

function describe({ code, signal }: ServiceExit): string {
  return signal ? `signal ${signal}` : `exit code ${code}`;
}
