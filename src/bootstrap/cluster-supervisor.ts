import type { EventEmitter } from 'node:events';
import { EXIT_CONFIG } from '../config/startup-refused.error';

/** What the supervisor needs of a `cluster.Worker`; tests pass fakes. */
export interface SupervisedWorker extends EventEmitter {
  readonly process: { readonly pid?: number; kill(signal?: NodeJS.Signals): boolean };
}

export interface SupervisorLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  fatal(obj: object, msg: string): void;
}

export interface ClusterSupervisorOptions {
  /** WEB_CONCURRENCY. */
  size: number;
  /** SHUTDOWN_TIMEOUT_MS: how long each worker may drain. */
  shutdownTimeoutMs: number;
  fork: () => SupervisedWorker;
  logger: SupervisorLogger;
  exit: (code: number) => void;
  /** Defaults to Date.now; tests pass a clock. */
  now?: () => number;
}

/** Workers that die before they ever listen, in a row, before the primary gives up. */
export const MAX_STARTUP_FAILURES = 3;
/** Crashes are counted over this window to slow down a crash loop. */
export const CRASH_WINDOW_MS = 60_000;
export const MAX_RESTART_DELAY_MS = 30_000;
/** What the primary allows on top of a worker's own drain timeout before SIGKILL. */
export const KILL_GRACE_MS = 2_000;

/** Immediate for a first crash, then 1 s, 2 s, 4 s ... up to 30 s while crashes keep coming. */
export function restartDelayMs(recentCrashes: number): number {
  if (recentCrashes <= 1) return 0;
  return Math.min(MAX_RESTART_DELAY_MS, 1000 * 2 ** (recentCrashes - 2));
}

interface Slot {
  worker: SupervisedWorker;
  listening: boolean;
}

/**
 * The cluster primary: keeps `size` workers serving the shared port, replaces
 * a worker that dies (with a growing delay if they keep dying), gives up with
 * exit 1 if workers cannot even start (a bad deploy should fail loudly, not
 * loop), and on shutdown sends SIGTERM to every worker and exits once all of
 * them have drained: 0 if all exited cleanly, 1 otherwise.
 */
export class ClusterSupervisor {
  private readonly slots = new Map<SupervisedWorker, Slot>();
  private readonly pendingRestarts = new Set<NodeJS.Timeout>();
  private readonly crashTimes: number[] = [];
  private startupFailures = 0;
  private stopping = false;
  private cleanExit = true;
  private forcedExitCode: number | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly options: ClusterSupervisorOptions) {
    this.now = options.now ?? Date.now;
  }

  get workerCount(): number {
    return this.slots.size;
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  start(): void {
    this.options.logger.info(
      { workers: this.options.size },
      `Starting ${this.options.size} worker processes`,
    );
    for (let i = 0; i < this.options.size; i++) this.spawn();
  }

  /** SIGTERM/SIGINT on the primary. Idempotent. */
  shutdown(reason: string, exitCode?: number): void {
    if (exitCode !== undefined) this.forcedExitCode ??= exitCode;
    if (this.stopping) return;
    this.stopping = true;
    for (const timer of this.pendingRestarts) clearTimeout(timer);
    this.pendingRestarts.clear();
    this.options.logger.info(
      { reason, workers: this.slots.size },
      `Shutting down: draining ${this.slots.size} worker(s)`,
    );
    for (const { worker } of this.slots.values()) worker.process.kill('SIGTERM');
    if (this.slots.size === 0) return this.finish();

    this.killTimer = setTimeout(() => {
      const stuck = [...this.slots.values()].map((s) => s.worker.process.pid);
      this.options.logger.error({ pids: stuck }, 'Workers did not drain in time; killing them');
      this.cleanExit = false;
      for (const { worker } of this.slots.values()) worker.process.kill('SIGKILL');
    }, this.options.shutdownTimeoutMs + KILL_GRACE_MS);
  }

  private spawn(): void {
    const worker = this.options.fork();
    const slot: Slot = { worker, listening: false };
    this.slots.set(worker, slot);
    worker.on('listening', () => {
      if (slot.listening) return;
      slot.listening = true;
      this.startupFailures = 0;
      this.options.logger.info({ worker_pid: worker.process.pid }, 'Worker listening');
    });
    worker.on('exit', (code: number | null, signal: NodeJS.Signals | null) =>
      this.onExit(slot, code, signal),
    );
  }

  private onExit(slot: Slot, code: number | null, signal: NodeJS.Signals | null): void {
    this.slots.delete(slot.worker);
    const details = { worker_pid: slot.worker.process.pid, code, signal };

    if (this.stopping) {
      if (code !== 0) this.cleanExit = false;
      this.options.logger.info(details, 'Worker exited');
      if (this.slots.size === 0) this.finish();
      return;
    }

    if (!slot.listening) {
      if (code === EXIT_CONFIG) {
        // It has printed why (one line naming the variable); a replacement would only say it again.
        this.options.logger.fatal(
          details,
          'A worker refused to start because of the configuration (see the line above); not restarting',
        );
        return this.shutdown('configuration refused', 1);
      }
      this.startupFailures++;
      if (this.startupFailures >= MAX_STARTUP_FAILURES) {
        this.options.logger.fatal(
          { ...details, failures: this.startupFailures },
          'Workers keep dying before they listen; giving up (see the worker errors above)',
        );
        return this.shutdown('workers cannot start', 1);
      }
    }

    const now = this.now();
    this.crashTimes.push(now);
    while (this.crashTimes.length > 0 && this.crashTimes[0] <= now - CRASH_WINDOW_MS) {
      this.crashTimes.shift();
    }
    const delay = restartDelayMs(this.crashTimes.length);
    this.options.logger.error(
      { ...details, restart_in_ms: delay },
      'Worker died unexpectedly; starting a replacement',
    );
    const timer = setTimeout(() => {
      this.pendingRestarts.delete(timer);
      if (!this.stopping) this.spawn();
    }, delay);
    this.pendingRestarts.add(timer);
  }

  private finish(): void {
    if (this.killTimer) clearTimeout(this.killTimer);
    const code = this.forcedExitCode ?? (this.cleanExit ? 0 : 1);
    this.options.logger.info({ code }, 'All workers stopped; primary exiting');
    this.options.exit(code);
  }
}
