import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { launchMongo, type LaunchedMongo } from '../database/mongo-launcher';

export const LOOPBACK = '127.0.0.1';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The service's compiled entry point in `distDir`, or an error saying how to get it. */
export function serviceEntry(distDir: string): string {
  const entry = join(distDir, 'main.js');
  if (!existsSync(entry)) {
    throw new Error(`${entry} is missing: run \`npm run build\` first (this tool builds nothing)`);
  }
  return entry;
}

/**
 * One database server for the whole run, from the same launcher `npm start`
 * and the tests use (MONGODB_URI, a mongod, or FerretDB on a temporary
 * directory).
 */
export function launchDatabase(
  projectRoot: string,
  log: (message: string) => void,
): Promise<LaunchedMongo> {
  return launchMongo({ persistent: false, projectRoot, log });
}

export type ServiceState = 'stopped' | 'starting' | 'up' | 'paused' | 'down';

/**
 * One real service process (`node dist/main.js`) on a fixed loopback port,
 * which survives kills and restarts so clients keep their target. Its output
 * is appended to `logFile`. Only processes started here are ever signalled.
 */
export class ServiceProcess {
  state: ServiceState = 'stopped';
  /** Exits that nobody here asked for (a crash). */
  unexpectedExits = 0;
  readonly url: string;
  private child?: ChildProcess;
  private exited: Promise<void> = Promise.resolve();
  private expectingExit = false;

  constructor(
    readonly index: number,
    readonly port: number,
    private readonly entry: string,
    private readonly env: NodeJS.ProcessEnv,
    readonly logFile: string,
  ) {
    this.url = `http://${LOOPBACK}:${port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Spawns the process and resolves once `/health/ready` answers 200. */
  async start(timeoutMs = 90_000): Promise<void> {
    if (this.state !== 'stopped' && this.state !== 'down') {
      throw new Error(`service ${this.index} is ${this.state}`);
    }
    const fd = openSync(this.logFile, 'a');
    const child = spawn(process.execPath, [this.entry], {
      env: { ...this.env, PORT: String(this.port) },
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    this.child = child;
    this.expectingExit = false;
    this.state = 'starting';
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        if (this.child === child) {
          if (!this.expectingExit) this.unexpectedExits += 1;
          this.state = 'down';
        }
        resolve();
      }),
    );
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      if (this.child !== child || child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`service ${this.index} exited while starting (see its log)`);
      }
      try {
        const res = await fetch(`${this.url}/health/ready`, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        if (res.status === 200) {
          this.state = 'up';
          return;
        }
      } catch {
        // Not listening yet.
      }
      await sleep(100);
    }
    await this.kill();
    throw new Error(`service ${this.index} was not ready within ${timeoutMs} ms (see its log)`);
  }

  /** SIGSTOP: the process keeps its sockets and state but runs no code. */
  pause(): void {
    if (this.state !== 'up' || !this.child?.pid)
      throw new Error(`service ${this.index} is ${this.state}`);
    process.kill(this.child.pid, 'SIGSTOP');
    this.state = 'paused';
  }

  resume(): void {
    if (this.state !== 'paused' || !this.child?.pid) return;
    process.kill(this.child.pid, 'SIGCONT');
    this.state = 'up';
  }

  /** SIGKILL (a paused process dies too), resolved once it has exited. */
  async kill(): Promise<void> {
    if (!this.child || this.state === 'down' || this.state === 'stopped') return;
    this.expectingExit = true;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM (after SIGCONT if paused), SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.child || this.state === 'down' || this.state === 'stopped') {
      this.state = 'stopped';
      return;
    }
    this.expectingExit = true;
    this.resume();
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
    this.state = 'stopped';
  }

  /** Last resort at exit: no process of ours outlives the run. */
  killNow(): void {
    if (
      this.child &&
      (this.state === 'up' || this.state === 'paused' || this.state === 'starting')
    ) {
      this.expectingExit = true;
      this.child.kill('SIGKILL');
    }
  }
}
