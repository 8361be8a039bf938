import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { InjectConnection } from '@nestjs/mongoose';
import type { TopologyDescriptionChangedEvent } from 'mongodb';
import type { Connection } from 'mongoose';

/** Pause between recovery pings that fail at once (connection refused). */
const PROBE_PAUSE_MS = 500;

/**
 * Whether the database can be reached at all, as the driver's own server
 * monitoring sees it. Once the driver has marked every server unknown, an
 * operation would wait the whole server-selection timeout before failing, so
 * requests that need the database are answered 503 at once instead (see
 * `failFastWhileDatabaseIsDown`).
 *
 * While the database is down, a ping runs back to back: a pending server
 * selection makes the driver re-check the server every half second, so
 * recovery is noticed within about a second, without a restart and without
 * waiting for client traffic (which is being refused) to notice it.
 */
@Injectable()
export class DatabaseAvailability implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(DatabaseAvailability.name);
  private reachable = true;
  private probing?: Promise<void>;
  private stopped = false;

  constructor(@InjectConnection() private readonly connection: Connection) {}

  get isReachable(): boolean {
    return this.reachable;
  }

  onModuleInit(): void {
    this.connection
      .getClient()
      .on('topologyDescriptionChanged', (event: TopologyDescriptionChangedEvent) =>
        this.onTopologyChanged(event.newDescription.hasKnownServers),
      );
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    await this.probing;
  }

  private onTopologyChanged(reachable: boolean): void {
    if (reachable === this.reachable) return;
    this.reachable = reachable;
    if (reachable) {
      this.logger.log('The database is reachable again');
      return;
    }
    this.logger.error('The database is unreachable; answering 503 until it is back');
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
