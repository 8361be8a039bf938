import { setTimeout as sleep } from 'node:timers/promises';
import type { Random } from './random';
import type { Recorder } from './recorder';
import type { ServiceProcess } from './services';

export interface NemesisCounts {
  pauses: number;
  kills: number;
  restarts: number;
  failedRestarts: number;
}

/**
 * Injects faults into the service processes: pauses one (SIGSTOP, then
 * SIGCONT after more than a lease, so its operations are taken over while it
 * is still alive), or kills one (SIGKILL, also while paused) and restarts it.
 * At least one process stays up at every moment. Every random choice is drawn
 * when the fault is decided, so a seed reproduces the same faults.
 */
export class Nemesis {
  readonly counts: NemesisCounts = { pauses: 0, kills: 0, restarts: 0, failedRestarts: 0 };
  private readonly tasks: Promise<void>[] = [];

  constructor(
    private readonly rng: Random,
    private readonly services: readonly ServiceProcess[],
    private readonly recorder: Recorder,
    private readonly leaseMs: number,
    private readonly log: (message: string) => void,
  ) {}

  /** Injects faults until `until`, then waits for every pause and restart in progress to end. */
  async run(until: number): Promise<void> {
    while (performance.now() < until) {
      await sleep(this.rng.int(1000, 4000));
      if (performance.now() >= until) break;
      const action = this.rng.weighted({ pause: 5, kill: 3, killPaused: 1 });
      const up = this.services.filter((s) => s.state === 'up');
      const paused = this.services.filter((s) => s.state === 'paused');
      // Drawn now, used or not, so the stream does not depend on what is up.
      const target = this.rng.next();
      const pauseMs = this.rng.int(Math.round(1.2 * this.leaseMs), 4 * this.leaseMs);
      const downMs = this.rng.int(300, 3000);
      if (action === 'pause' && up.length > 1) {
        this.tasks.push(this.pause(pick(up, target), pauseMs));
      } else if (action === 'kill' && up.length > 1) {
        this.tasks.push(this.killAndRestart(pick(up, target), downMs));
      } else if (action === 'killPaused' && paused.length > 0) {
        this.tasks.push(this.killAndRestart(pick(paused, target), downMs));
      }
    }
    await Promise.all(this.tasks);
  }

  private async pause(service: ServiceProcess, ms: number): Promise<void> {
    const pid = service.pid;
    service.pause();
    this.counts.pauses += 1;
    this.recorder.fault('pause', service.index, pid);
    await sleep(ms);
    // A kill while paused ends the pause; the restarted process is not ours to resume.
    if (service.state === 'paused' && service.pid === pid) {
      service.resume();
      this.recorder.fault('resume', service.index, pid);
    }
  }

  private async killAndRestart(service: ServiceProcess, downMs: number): Promise<void> {
    const pid = service.pid;
    await service.kill();
    this.counts.kills += 1;
    this.recorder.fault('kill', service.index, pid);
    await sleep(downMs);
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        await service.start();
        this.counts.restarts += 1;
        this.recorder.fault('restart', service.index, service.pid);
        return;
      } catch (error) {
        this.counts.failedRestarts += 1;
        this.log(`restart of service ${service.index} failed: ${(error as Error).message}`);
        await sleep(2000);
      }
    }
  }
}

function pick<T>(items: readonly T[], roll: number): T {
  return items[Math.floor(roll * items.length)];
}
