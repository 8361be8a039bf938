/** Where the database behind a {@link LaunchedMongo} comes from. */
export type MongoKind = 'external' | 'mongod' | 'ferretdb' | 'memory-server';

export type LauncherLog = (message: string) => void;

export interface StopProcessOptions {
  /** SIGKILL at once instead of a graceful SIGTERM: simulates a crash. */
  force?: boolean;
}

export interface LaunchedMongo {
  /** Connection string; no database name, the application picks its own. */
  readonly uri: string;
  readonly kind: MongoKind;
  /** Data directory of a server started here (undefined for `external`). */
  readonly dataDir?: string;
  /** Where the server's own output goes (undefined for `external` and `memory-server`). */
  readonly logFile?: string;
  /** Pid of the server process while it runs (undefined for `external`). */
  readonly pid?: number;
  /**
   * Pid of the database server behind it, if any: FerretDB's PostgreSQL
   * (whose connections are its child processes). For CPU accounting.
   */
  readonly backendPid?: number;
  /** What runs, for logs and reports, e.g. "FerretDB 1.24 on PostgreSQL 15 (...)". */
  readonly description?: string;
  /** Stops the server and, unless it is persistent, removes its data. Idempotent. */
  stop(): Promise<void>;
  /**
   * Stops only the server process and keeps its port and data, so that
   * {@link startProcess} brings back the same database at the same URI.
   * Throws for `external`, which this process does not own.
   */
  stopProcess(options?: StopProcessOptions): Promise<void>;
  /** Starts the server again after {@link stopProcess}; resolves once it answers `ping`. */
  startProcess(): Promise<void>;
  /** {@link stopProcess} then {@link startProcess}. */
  restart(): Promise<void>;
}

/** What every starter needs to know; filled from {@link LaunchMongoOptions} defaults. */
export interface StartContext {
  projectRoot: string;
  /** Keep data across runs in `<project>/.data/<kind>` (or {@link dataDir}). */
  persistent: boolean;
  /** Explicit persistent data directory; implies `persistent`. */
  dataDir?: string;
  env: NodeJS.ProcessEnv;
  log: LauncherLog;
  /** Upper bound for a started server to answer `ping`. */
  readyTimeoutMs: number;
  /** Upper bound for finding out whether mongod can be downloaded at all. */
  downloadProbeTimeoutMs: number;
}
