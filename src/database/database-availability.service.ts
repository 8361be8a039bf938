import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { InjectConnection } from '@nestjs/mongoose';
import type { Connection } from 'mongoose';
import { ReachabilityMonitor } from './reachability-monitor';

/**
 * Whether the master database can be reached at all. While it cannot,
 * requests that need the database are answered 503 at once instead of after
 * the server-selection timeout (the `onRequest` hook of http-hardening.ts).
 */
@Injectable()
export class DatabaseAvailability implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(DatabaseAvailability.name);
  private monitor?: ReachabilityMonitor;

  constructor(@InjectConnection() private readonly connection: Connection) {}

  get isReachable(): boolean {
    return this.monitor?.isReachable ?? true;
  }

  onModuleInit(): void {
    this.monitor = new ReachabilityMonitor(this.connection, this.logger, 'The database');
  }

  async onApplicationShutdown(): Promise<void> {
    await this.monitor?.stop();
  }
}
