/** The shape of one benchmark run's results (also written as JSON next to the report). */
import type { HttpRun } from './load';
import type { ServerName } from './server-process';

export interface HttpScenarioResult {
  id: string;
  title: string;
  runs: Record<ServerName, HttpRun[]>;
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
  tenants?: { bounded: TenantFactoryRun; unbounded?: TenantFactoryRun };
  jwt?: JwtResult;
}
