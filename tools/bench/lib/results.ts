/** The shape of one benchmark run's results (also written as JSON next to the report). */
import type { HttpRun } from './load';
import type { ServerName } from './server-process';

/** Database commands a server sent for `requests` requests of one kind, by command name. */
export interface CommandCount {
  requests: number;
  perRequest: number;
  byName: Record<string, number>;
}

/** The bounds for one HTTP scenario; each is checked only where set. */
export interface HttpTargets {
  /** Service req/s at least this share of the baseline's. */
  minRps?: number;
  /** Service CPU per request at most this multiple of the baseline's. */
  maxCpu?: number;
  /** At most this many database commands per request. */
  maxCommands?: number;
}

export interface HttpScenarioResult {
  id: string;
  title: string;
  targets: HttpTargets;
  runs: Record<ServerName, HttpRun[]>;
  commands?: Record<ServerName, CommandCount>;
}

/** One request kind against the service with WEB_CONCURRENCY=1 and =2, rounds alternating. */
export interface ScalingScenarioResult {
  title: string;
  one: HttpRun[];
  two: HttpRun[];
}

export interface ScalingResult {
  scenarios: ScalingScenarioResult[];
  /** Idle RSS of each worker of the two-worker service, and of its primary, after start. */
  workerIdleRss: number[];
  primaryIdleRss: number;
}

export interface RawCompareRun {
  compares: number;
  seconds: number;
  rate: number;
  cpuMsPerCompare: number;
  threadPool: number;
  concurrency: number;
}

export interface LoginResult {
  cost: number;
  service: HttpRun[];
  baseline: HttpRun[];
  raw: RawCompareRun[];
  commands?: Record<ServerName, CommandCount>;
}

export interface MoveRun {
  seconds: number;
  docsPerSec: number;
  copyMs?: number;
  verifyMs?: number;
  nodeCpuMs?: number;
  dbCpuMs?: number;
}

export interface RenameResult {
  documents: number;
  collections: number;
  service: MoveRun[];
  baseline: MoveRun[];
}

export interface StartupRun {
  readyMs: number;
  /** RSS of the serving process (each worker's, for a cluster) after idling. */
  idleRss: number;
}

export interface StartupResult {
  service: StartupRun[];
  baseline: StartupRun[];
}

export interface TenantFactoryRun {
  tenants: number;
  cacheSize: number;
  queries: number;
  seconds: number;
  heapGrowthMB: number;
  peakHeapGrowthMB: number;
  handlesKept: number;
  maxPoolSize: number;
  connectionsCreated: number;
  connectionsMaxOpen: number;
}

export interface JwtResult {
  microsecondsPerVerify: Record<string, number>;
}

export interface Environment {
  date: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
  platform: string;
  node: string;
  database: string;
  loadAverage: string;
  mode: string;
  settings: string;
  totalSeconds: number;
}

export interface BenchResults {
  environment?: Environment;
  http: HttpScenarioResult[];
  login?: LoginResult;
  rename?: RenameResult;
  startup?: StartupResult;
  scaling?: ScalingResult;
  tenants?: { bounded: TenantFactoryRun; unbounded?: TenantFactoryRun };
  jwt?: JwtResult;
}
