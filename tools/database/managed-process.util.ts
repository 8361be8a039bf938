import { spawn, type ChildProcess } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { connect } from 'node:net';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient } from 'mongodb';
import { freePort, LOOPBACK } from '../lib/port';
import type { LaunchedMongo, LauncherLog, MongoKind, StopProcessOptions } from './launcher.types';

/** Like `which`: the first executable file called `name` on PATH. */
export function findExecutable(
  name: string,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  const pathVar = env.PATH ?? env.Path ?? '';
  const extensions =
    process.platform === 'win32' ? ['', ...(env.PATHEXT ?? '.EXE;.CMD').split(';')] : [''];
  for (const dir of pathVar.split(delimiter)) {
    if (dir === '') continue;
    for (const extension of extensions) {
      const candidate = join(dir, name + extension);
      if (isExecutableFile(candidate)) return candidate;
    }
  }
  return undefined;
}

export function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

/**
 * An orphan that exited stays a zombie until init reaps it, which in some
 * containers takes seconds; signal 0 still succeeds on it.
 */
function isZombie(pid: number): boolean {
  if (process.platform !== 'linux') return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z' || state === 'X';
  } catch {
    return false;
  }
}

function canConnect(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Connects with the real driver and runs `ping`: a listening port alone does not mean the server serves. */
export async function pingMongo(uri: string, timeoutMs: number): Promise<void> {
  const client = new MongoClient(uri, {
    serverSelectionTimeoutMS: timeoutMs,
    connectTimeoutMS: timeoutMs,
    socketTimeoutMS: timeoutMs,
    maxPoolSize: 1,
  });
  try {
    await client.connect();
    await client.db('admin').command({ ping: 1 });
  } finally {
    await client.close();
  }
}

/** Resolves true if `promise` settled within `ms`, false otherwise. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function readLogTail(file: string, maxLines = 20): string {
  if (!existsSync(file)) return '';
  const fd = openSync(file, 'r');
  try {
    const size = statSync(file).size;
    const length = Math.min(size, 8192);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    return buffer.toString('utf8').trimEnd().split('\n').slice(-maxLines).join('\n');
  } finally {
    closeSync(fd);
  }
}

// Persistent data dirs keep their log forever; one rotation keeps it bounded.
const MAX_LOG_BYTES = 20 * 1024 * 1024;

function rotateLogIfLarge(file: string): void {
  try {
    if (statSync(file).size > MAX_LOG_BYTES) renameSync(file, `${file}.1`);
  } catch {
    // No log yet.
  }
}

// Children we started and have not seen exit. A server that outlives the
// process that owns it would hold its port and data dir until someone notices,
// so kill them on the way out. 'exit' handlers must be synchronous: SIGKILL
// is the only thing that reliably lands; both backends are crash-safe.
// Temp data dirs go too, or every crashed test run would litter the temp dir.
// The signal is how each is ended: SIGKILL for the MongoDB-protocol servers,
// SIGQUIT for PostgreSQL (immediate shutdown that also ends its backends).
const liveChildren = new Map<ChildProcess, NodeJS.Signals>();
// Directories to remove once a child (by pid) has exited, after this process is gone.
const removeAfterExit = new Map<ChildProcess, string>();
const tempDirs = new Set<string>();
let exitHookInstalled = false;

function cleanUpOnExit(): void {
  for (const [child, signal] of liveChildren) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill(signal);
        const dir = removeAfterExit.get(child);
        // A server that owns its directory still writes to it while it shuts
        // down; a detached reaper removes it once the server is gone.
        if (dir !== undefined && child.pid !== undefined) {
          spawn(
            'sh',
            [
              '-c',
              'while kill -0 "$0" 2>/dev/null; do sleep 0.1; done; rm -rf "$1"',
              String(child.pid),
              dir,
            ],
            { detached: true, stdio: 'ignore' },
          ).unref();
        }
      } catch {
        // Already gone.
      }
    }
  }
  liveChildren.clear();
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 2 });
    } catch {
      // Best effort: the process is exiting anyway.
    }
  }
  tempDirs.clear();
}

/** A temporary directory to remove if this process exits before removing it itself. */
export function removeOnExit(dir: string): void {
  tempDirs.add(dir);
  installExitHook();
}

export function forgetOnExit(dir: string): void {
  tempDirs.delete(dir);
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', cleanUpOnExit);
  // A signal's default action ends the process without 'exit'. While someone
  // else handles the signal (e.g. Nest shutdown hooks) we stay out of the way;
  // when we are the only listener, which includes the signal Nest re-raises
  // after closing the app, we clean up and let the default action happen.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
    process.on(signal, onTerminatingSignal);
}

function onTerminatingSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return;
  process.removeListener(signal, onTerminatingSignal);
  cleanUpOnExit();
  process.kill(process.pid, signal);
}

function track(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  liveChildren.set(child, signal);
  installExitHook();
}

/** Ends `child` with `signal` if this process exits (or dies of a signal) while it runs. */
export function endWithOwner(
  child: ChildProcess,
  signal: NodeJS.Signals,
  removeDir?: string,
): void {
  track(child, signal);
  if (removeDir !== undefined) removeAfterExit.set(child, removeDir);
  child.once('exit', () => {
    liveChildren.delete(child);
    removeAfterExit.delete(child);
  });
}

interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

export class ServerExitedError extends Error {
  constructor(
    message: string,
    readonly portConflict: boolean,
  ) {
    super(message);
    this.name = 'ServerExitedError';
  }
}

export interface ManagedProcessOptions {
  /** For messages, e.g. "FerretDB". */
  name: string;
  command: string;
  args: (port: number) => string[];
  /** stdout and stderr of the server go here, not to our console. */
  logFile: string;
  readyTimeoutMs: number;
  log: LauncherLog;
  /** Fixed port; without it {@link ManagedProcess.startOnFreePort} picks one. */
  port?: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** How long SIGTERM may take before SIGKILL. */
  stopGraceMs?: number;
}

/**
 * One database server child process: start, wait until it answers `ping`,
 * stop (SIGTERM, then SIGKILL), and start again on the same port.
 */
export class ManagedProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<ExitInfo> | undefined;
  private stopping = false;
  private currentPort: number | undefined;

  constructor(private readonly options: ManagedProcessOptions) {
    this.currentPort = options.port;
  }

  get port(): number {
    if (this.currentPort === undefined) throw new Error(`${this.options.name} has no port yet.`);
    return this.currentPort;
  }

  get uri(): string {
    return `mongodb://${LOOPBACK}:${this.port}`;
  }

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  get running(): boolean {
    const child = this.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /** First start: a fresh free port, retried when someone else grabs it between probe and bind. */
  async startOnFreePort(attempts = 3): Promise<void> {
    if (this.options.port !== undefined) return this.start();
    for (let attempt = 1; ; attempt++) {
      this.currentPort = await freePort();
      try {
        await this.start();
        return;
      } catch (error) {
        if (!(error instanceof ServerExitedError && error.portConflict) || attempt >= attempts)
          throw error;
      }
    }
  }

  async start(): Promise<void> {
    if (this.running) return;
    const { name, command, logFile, readyTimeoutMs } = this.options;
    const port = this.port;
    rotateLogIfLarge(logFile);
    const logFd = openSync(logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(command, this.options.args(port), {
        cwd: this.options.cwd,
        env: this.options.env ?? process.env,
        stdio: ['ignore', logFd, logFd],
        windowsHide: true,
        // Its own process group: a terminal's Ctrl-C reaches the owner only,
        // which stops the server once whatever uses it has finished
        // (`npm start` drains the service first).
        detached: true,
      });
    } finally {
      // The child has its own copy of the descriptor.
      closeSync(logFd);
    }
    this.child = child;
    this.stopping = false;
    track(child);

    let exitInfo: ExitInfo | undefined;
    let readySeen = false;
    const exited = new Promise<ExitInfo>((resolve) => {
      child.once('error', (error) => resolve({ code: null, signal: null, error }));
      child.once('exit', (code, signal) => resolve({ code, signal }));
    }).then((info) => {
      exitInfo = info;
      liveChildren.delete(child);
      if (!this.stopping && this.child === child && readySeen) {
        this.options.log(
          `${name} (pid ${child.pid ?? '?'}) exited unexpectedly (${describeExit(info)}); see ${logFile}`,
        );
      }
      return info;
    });
    this.exited = exited;

    const deadline = Date.now() + readyTimeoutMs;
    let lastError: unknown;
    for (;;) {
      if (exitInfo !== undefined) throw this.exitError(exitInfo);
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      try {
        // Cheap TCP poll first: the driver waits a whole server-selection timeout on a refused port.
        if (await canConnect(LOOPBACK, port, Math.min(500, remaining))) {
          await pingMongo(this.uri, Math.max(200, Math.min(2000, remaining)));
          readySeen = true;
          // From now on a forgotten stop() must not keep a test run alive; the exit hook still kills it.
          child.unref();
          return;
        }
      } catch (error) {
        lastError = error;
      }
      if (exitInfo !== undefined) throw this.exitError(exitInfo);
      await sleep(50);
    }
    await this.stop({ force: true });
    const cause = lastError instanceof Error ? ` Last error: ${lastError.message}.` : '';
    throw new Error(
      `${name} did not answer ping on ${this.uri} within ${readyTimeoutMs} ms.${cause}` +
        logTailSuffix(logFile),
    );
  }

  async stop(options: StopProcessOptions = {}): Promise<void> {
    const child = this.child;
    const exited = this.exited;
    if (child === undefined || exited === undefined) return;
    this.stopping = true;
    if (this.running) {
      // Hold the event loop open until the exit is seen, or an awaiting caller would just vanish.
      child.ref();
      child.kill(options.force === true ? 'SIGKILL' : 'SIGTERM');
      if (!(await settlesWithin(exited, this.options.stopGraceMs ?? 5000)) && this.running) {
        this.options.log(
          `${this.options.name} (pid ${child.pid ?? '?'}) ignored SIGTERM; sending SIGKILL.`,
        );
        child.kill('SIGKILL');
        await settlesWithin(exited, 5000);
      }
    }
    liveChildren.delete(child);
    this.child = undefined;
    this.exited = undefined;
  }

  private exitError(info: ExitInfo): ServerExitedError {
    const { name, command, logFile } = this.options;
    if (info.error !== undefined) {
      return new ServerExitedError(
        `Could not start ${name} (${command}): ${info.error.message}`,
        false,
      );
    }
    const tail = readLogTail(logFile);
    return new ServerExitedError(
      `${name} exited during startup (${describeExit(info)}) on port ${this.port}.` +
        logTailSuffix(logFile, tail),
      /address already in use/i.test(tail),
    );
  }
}

function describeExit(info: ExitInfo): string {
  return info.signal !== null ? `signal ${info.signal}` : `exit code ${String(info.code)}`;
}

function logTailSuffix(logFile: string, tail = readLogTail(logFile)): string {
  return tail === '' ? ` (log: ${logFile})` : `\nLast lines of ${logFile}:\n${tail}`;
}

export interface ProcessLaunchOptions {
  kind: MongoKind;
  process: ManagedProcess;
  dataDir: string;
  logFile: string;
  /** Temp data dirs go with the server; persistent ones stay. */
  removeDataDirOnStop: boolean;
  /** Called after every successful (re)start, e.g. to write a pid file. */
  afterStart?: () => void;
  /** Called after every stop of the process. */
  afterStop?: () => void;
  /** Called once by `stop()`, after the process stopped, before its data dir goes. */
  afterFinalStop?: () => Promise<void>;
  /** The pid of a server behind this one (FerretDB's PostgreSQL). */
  backendPid?: () => number | undefined;
}

/** Wraps a started {@link ManagedProcess} in the public {@link LaunchedMongo} shape. */
export function launchedFromProcess(options: ProcessLaunchOptions): LaunchedMongo {
  const {
    kind,
    process: server,
    dataDir,
    logFile,
    removeDataDirOnStop,
    afterStart,
    afterStop,
    afterFinalStop,
    backendPid,
  } = options;
  let stopped = false;
  const stopProcess = async (stopOptions?: StopProcessOptions): Promise<void> => {
    await server.stop(stopOptions);
    afterStop?.();
  };
  const startProcess = async (): Promise<void> => {
    if (stopped) throw new Error(`This ${kind} server was stopped for good; launch a new one.`);
    await server.start();
    afterStart?.();
  };
  afterStart?.();
  if (removeDataDirOnStop) {
    tempDirs.add(dataDir);
    installExitHook();
  }
  return {
    uri: server.uri,
    kind,
    dataDir,
    logFile,
    get pid() {
      return server.pid;
    },
    get backendPid() {
      return backendPid?.();
    },
    stopProcess,
    startProcess,
    restart: async () => {
      await stopProcess();
      await startProcess();
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await stopProcess();
      await afterFinalStop?.();
      if (removeDataDirOnStop) {
        rmSync(dataDir, { recursive: true, force: true });
        tempDirs.delete(dataDir);
      }
    },
  };
}
