/** Starting, watching and stopping the processes under test (only ones we started). */
import { readFileSync } from 'node:fs';
import {
  freePort,
  LOOPBACK,
  rssOf,
  startService,
  type RunningService,
  type ServiceExit,
} from '../../lib/service';

export { freePort, LOOPBACK, rssOf };

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** User + system CPU time in milliseconds, or undefined (off Linux). */
export function cpuMsOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat; 12 and 13 after the comm.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** Pids of a process and its children (the cluster workers of a primary). */
export function processTree(pid: number): number[] {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
    return [pid, ...children];
  } catch {
    return [pid];
  }
}

export type ServerName = 'service' | 'baseline';

export interface ServerProcessOptions {
  name: string;
  script: string;
  nodeArgs?: string[];
  env: NodeJS.ProcessEnv;
  port: number;
  logFile: string;
  readyPath?: string;
  ipc?: boolean;
}

/** What a preloaded helper (lib/profiler.ts, lib/command-counter.ts) answers over IPC. */
export interface PreloadReply {
  type: string;
  commands?: Record<string, number>;
}

/**
 * A server process (the service or the baseline) with its output in
 * `logFile`, started the way every tool starts one (tools/lib/service.ts).
 * `ready` resolves with the milliseconds from spawn to the first 200 from
 * `readyPath`.
 */
export class ServerProcess {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly logFile: string;
  readonly ready: Promise<number>;
  readonly exited: Promise<ServiceExit>;
  private service: RunningService | undefined;
  private readonly started: Promise<RunningService>;

  constructor({
    name,
    script,
    nodeArgs = [],
    env,
    port,
    logFile,
    readyPath = '/health/ready',
    ipc = false,
  }: ServerProcessOptions) {
    this.name = name;
    this.port = port;
    this.url = `http://${LOOPBACK}:${port}`;
    this.logFile = logFile;
    this.started = startService({
      entry: script,
      nodeArgs,
      baseEnv: env,
      port,
      logFile,
      ipc,
      readyPath,
      readyTimeoutMs: 60_000,
      readyPollMs: 10,
    }).then((service) => (this.service = service));
    this.ready = this.started.then(
      (service) => service.readyMs,
      (error: Error) => {
        throw new Error(`${name}: ${error.message.split('\n')[0]} (see ${logFile})`);
      },
    );
    this.exited = this.started.then(
      (service) => service.exited,
      () => ({ code: null, signal: null }),
    );
  }

  get pid(): number | undefined {
    return this.service?.pid;
  }

  /** RSS of each serving process: the workers of a cluster primary, else the process itself. */
  workerRss(): { pid: number; rss: number }[] {
    return this.service?.rss() ?? [];
  }

  /** CPU of the process and its workers together. */
  cpuMs(): number | undefined {
    if (this.pid === undefined) return undefined;
    let total = 0;
    for (const pid of processTree(this.pid)) total += cpuMsOf(pid) ?? 0;
    return total;
  }

  /**
   * Sends `type` to the preloaded helpers over IPC and waits for `<type>:done`
   * from `replies` processes (a cluster's workers each answer for themselves).
   */
  ask(type: string, extra: Record<string, unknown> = {}, replies = 1): Promise<PreloadReply[]> {
    const child = this.service?.child;
    if (child === undefined) return Promise.reject(new Error(`${this.name} is not running`));
    return new Promise((resolve) => {
      const answers: PreloadReply[] = [];
      const onMessage = (message: unknown) => {
        const reply = message as PreloadReply | null;
        if (reply?.type !== `${type}:done`) return;
        answers.push(reply);
        if (answers.length < replies) return;
        child.off('message', onMessage);
        resolve(answers);
      };
      child.on('message', onMessage);
      child.send({ type, ...extra });
    });
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<ServiceExit> {
    const service = await this.started.catch(() => undefined);
    return service ? service.stop(graceMs) : this.exited;
  }
}

/** CPU of processes and their children together, e.g. FerretDB and its PostgreSQL with its backends. */
export function treeCpuMs(pids: readonly (number | undefined)[]): number | undefined {
  let total: number | undefined;
  for (const root of pids) {
    if (root === undefined) continue;
    for (const pid of processTree(root)) total = (total ?? 0) + (cpuMsOf(pid) ?? 0);
  }
  return total;
}

/** Samples the RSS of a process tree every `everyMs` until `stop()`; reports the peak of the sum. */
export function sampleRss(pid: number | undefined, everyMs = 200): { stop(): number } {
  const read = () =>
    pid === undefined ? 0 : processTree(pid).reduce((sum, p) => sum + (rssOf(p) ?? 0), 0);
  let peak = read();
  const timer = setInterval(() => {
    peak = Math.max(peak, read());
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      peak = Math.max(peak, read());
      return peak;
    },
  };
}
