import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '@nestjs/common';
import type { TopologyDescriptionChangedEvent } from 'mongodb';
import type { Connection } from 'mongoose';

/** Pause between recovery pings that fail at once (connection refused). */
const PROBE_PAUSE_MS = 500;

/**
 * Whether one cluster can be reached at all, as the driver's own server
 * monitoring sees it. Once the driver has marked every server unknown, an
 * operation would wait the whole server-selection timeout before failing, so
 * whoever asks here can refuse at once instead.
 *
 * While the cluster is down, a ping runs back to back: a pending server
 * selection makes the driver re-check the server every half second, so
 * recovery is noticed within about a second, without a restart and without
 * waiting for client traffic (which is being refused) to notice it.
 */
export class ReachabilityMonitor {
  private reachable = true;
  private probing?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly connection: Connection,
    private readonly logger: Logger,
    /** How log lines name the cluster ("The database", "Tenant cluster eu-2"). */
    private readonly subject: string,
  ) {
    connection
      .getClient()
      .on('topologyDescriptionChanged', (event: TopologyDescriptionChangedEvent) =>
        this.onTopologyChanged(event.newDescription.hasKnownServers),
      );
  }

  get isReachable(): boolean {
    return this.reachable;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.probing;
  }

  private onTopologyChanged(reachable: boolean): void {
    if (reachable === this.reachable) return;
    this.reachable = reachable;
    if (reachable) {
      this.logger.log(`${this.subject} is reachable again`);
      return;
    }
    this.logger.error(`${this.subject} is unreachable; answering 503 until it is back`);
    this.probing ??= this.probeUntilReachable().finally(() => (this.probing = undefined));
  }

  private async probeUntilReachable(): Promise<void> {
    while (!this.reachable && !this.stopped) {
      try {
        await this.connection.db?.command({ ping: 1 });
      } catch {
        await sleep(PROBE_PAUSE_MS);
      }
    }
  }
}
