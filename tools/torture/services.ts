import { launchMongo, type LaunchedMongo } from '../database/mongo-launcher';
import { LOOPBACK, startService, type RunningService } from '../lib/service';

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
 * is appended to `logFile`.
 */
export class ServiceProcess {
  state: ServiceState = 'stopped';
  /** Exits that nobody here asked for (a crash). */
  unexpectedExits = 0;
  readonly url: string;
  private process?: RunningService;
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
    return this.process?.pid;
  }

  /** Spawns the process and resolves once `/health/ready` answers 200. */
  async start(timeoutMs = 90_000): Promise<void> {
    if (this.state !== 'stopped' && this.state !== 'down') {
      throw new Error(`service ${this.index} is ${this.state}`);
    }
    this.expectingExit = false;
    this.state = 'starting';
    try {
      this.process = await startService({
        entry: this.entry,
        port: this.port,
        baseEnv: this.env,
        logFile: this.logFile,
        readyTimeoutMs: timeoutMs,
      });
    } catch (error) {
      this.state = 'down';
      throw new Error(`service ${this.index} did not start (see its log): ${firstLine(error)}`, {
        cause: error,
      });
    }
    const started = this.process;
    void started.exited.then(() => {
      if (this.process !== started) return;
      if (!this.expectingExit) this.unexpectedExits += 1;
      this.state = 'down';
    });
    this.state = 'up';
  }

  /** SIGSTOP: the process keeps its sockets and state but runs no code. */
  pause(): void {
    if (this.state !== 'up' || !this.process)
      throw new Error(`service ${this.index} is ${this.state}`);
    this.process.kill('SIGSTOP');
    this.state = 'paused';
  }

  resume(): void {
    if (this.state !== 'paused' || !this.process) return;
    this.process.kill('SIGCONT');
    this.state = 'up';
  }

  /** SIGKILL (a paused process dies too), resolved once it has exited. */
  async kill(): Promise<void> {
    if (!this.process || this.state === 'down' || this.state === 'stopped') return;
    this.expectingExit = true;
    this.process.kill('SIGKILL');
    await this.process.exited;
  }

  /** SIGTERM (after SIGCONT if paused), SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.process && this.state !== 'down' && this.state !== 'stopped') {
      this.expectingExit = true;
      await this.process.stop(graceMs);
    }
    this.state = 'stopped';
  }

  /** Last resort at exit: no process of ours outlives the run. */
  killNow(): void {
    this.expectingExit = true;
    this.process?.kill('SIGKILL');
  }
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0];
}
