import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { InjectConnection } from '@nestjs/mongoose';
import mongoose, { type Connection } from 'mongoose';
import { DomainError } from '../common/errors/domain.error';
import { ErrorCode } from '../common/errors/error-codes';
import { databaseConfig, type DatabaseConfig } from '../config/configuration';
import { DEFAULT_CLUSTER } from '../config/tenant-clusters';
import { ReachabilityMonitor } from './reachability-monitor';

/**
 * Server selection on a tenant cluster. Short on purpose: a tenant cluster
 * that is down must fail its own tenants' requests quickly, and it never
 * holds up anyone else (the master's is longer: without it nothing works).
 */
export const TENANT_CLUSTER_SELECTION_TIMEOUT_MS = 2000;

/** After a failed first connection, requests are refused at once for this long before the next try. */
const RETRY_PAUSE_MS = 1000;

/** A tenant cluster refused before anything was sent to it (not configured, or down). */
export class ClusterUnreachableError extends DomainError {}

export const clusterUnavailable = () =>
  new ClusterUnreachableError(
    ErrorCode.SERVICE_UNAVAILABLE,
    "The database cluster of this organization's data is temporarily unavailable; retry shortly.",
    undefined,
    { 'retry-after': '5' },
  );

export const clusterNotConfigured = (name: string) =>
  new ClusterUnreachableError(
    ErrorCode.ORG_CLUSTER_NOT_CONFIGURED,
    `This organization's data is on the database cluster "${name}", which this service is not configured to reach.`,
  );

export type ClusterStatus = 'up' | 'down';

interface TenantCluster {
  readonly name: string;
  readonly uri: string;
  open?: { connection: Connection; monitor: ReachabilityMonitor };
  opening?: Promise<Connection>;
  /** Until when a failed first connection is not retried. */
  failedUntil: number;
}

/**
 * One client per database cluster: the master connection's for `default`,
 * and for each TENANT_CLUSTERS entry one opened on first use and shared by
 * all of its tenants. A cluster known to be down refuses at once with 503,
 * so its tenants fail fast and everyone else is unaffected.
 */
@Injectable()
export class ClusterConnections implements OnApplicationShutdown {
  private readonly logger = new Logger(ClusterConnections.name);
  private readonly clusters = new Map<string, TenantCluster>();
  private closed = false;

  constructor(
    @InjectConnection() private readonly master: Connection,
    @Inject(databaseConfig.KEY) config: DatabaseConfig,
  ) {
    for (const [name, uri] of Object.entries(config.tenantClusters)) {
      this.clusters.set(name, { name, uri, failedUntil: 0 });
    }
  }

  /** Every cluster tenants may live on, `default` first. */
  names(): string[] {
    return [DEFAULT_CLUSTER, ...this.clusters.keys()];
  }

  isConfigured(name: string): boolean {
    return name === DEFAULT_CLUSTER || this.clusters.has(name);
  }

  /** False only for a cluster seen down just now; one never tried counts as up. */
  mayBeUp(name: string): boolean {
    const cluster = this.clusters.get(name);
    if (!cluster) return name === DEFAULT_CLUSTER;
    if (cluster.open) return cluster.open.monitor.isReachable;
    return Date.now() >= cluster.failedUntil;
  }

  /**
   * The cluster's root connection (tenants take `useDb` handles from it).
   * Throws 503 `ORG_CLUSTER_NOT_CONFIGURED` for a name not configured, and
   * 503 `SERVICE_UNAVAILABLE` while the cluster is known to be down.
   */
  async connection(name: string): Promise<Connection> {
    if (name === DEFAULT_CLUSTER) return this.master;
    const cluster = this.clusters.get(name);
    if (!cluster) throw clusterNotConfigured(name);
    if (cluster.open) {
      if (!cluster.open.monitor.isReachable) throw clusterUnavailable();
      return cluster.open.connection;
    }
    if (this.closed || Date.now() < cluster.failedUntil) throw clusterUnavailable();
    cluster.opening ??= this.open(cluster).finally(() => (cluster.opening = undefined));
    return cluster.opening;
  }

  /** The cluster's root connection if it is open already (nothing is opened here). */
  openConnection(name: string): Connection | undefined {
    return name === DEFAULT_CLUSTER ? this.master : this.clusters.get(name)?.open?.connection;
  }

  /** Whether a tenant cluster answers a ping within `timeoutMs` (opening it if need be). */
  async status(name: string, timeoutMs: number): Promise<ClusterStatus> {
    const ping = async () => {
      const connection = await this.connection(name);
      await connection.db?.command({ ping: 1 });
      return 'up' as const;
    };
    const timeout = sleep(timeoutMs, 'down' as const, { ref: false });
    return Promise.race([ping().catch(() => 'down' as const), timeout]);
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    await Promise.all(
      [...this.clusters.values()].map(async (cluster) => {
        await cluster.opening?.catch(() => undefined);
        const open = cluster.open;
        cluster.open = undefined;
        if (!open) return;
        await open.monitor.stop();
        await open.connection.close();
      }),
    );
  }

  private async open(cluster: TenantCluster): Promise<Connection> {
    const connection = mongoose.createConnection(cluster.uri, {
      appName: 'org-management-service',
      // Tenants take their own databases with useDb; the root one only pings.
      dbName: 'admin',
      bufferCommands: false,
      serverSelectionTimeoutMS: TENANT_CLUSTER_SELECTION_TIMEOUT_MS,
      connectTimeoutMS: TENANT_CLUSTER_SELECTION_TIMEOUT_MS,
      maxPoolSize: 50,
      autoIndex: false,
      autoCreate: false,
    });
    try {
      await connection.asPromise();
    } catch (error) {
      cluster.failedUntil = Date.now() + RETRY_PAUSE_MS;
      await connection.close(true).catch(() => undefined);
      // The error's name only: the URI and its credentials never reach a log.
      this.logger.error(
        { cluster: cluster.name, error: (error as Error).name },
        'A tenant cluster could not be reached; its tenants are answered 503',
      );
      throw clusterUnavailable();
    }
    if (this.closed) {
      await connection.close();
      throw clusterUnavailable();
    }
    cluster.open = {
      connection,
      monitor: new ReachabilityMonitor(connection, this.logger, `Tenant cluster ${cluster.name}`),
    };
    this.logger.log({ cluster: cluster.name }, 'Connected to a tenant cluster');
    return connection;
  }
}
