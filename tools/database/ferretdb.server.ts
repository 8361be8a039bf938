import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import type { LaunchedMongo, LauncherLog, StartContext } from './launcher.types';
import { startPostgres, type PostgresCluster, type PostgresInstall } from './postgresql.server';
import { LOOPBACK } from '../lib/port';
import {
  forgetOnExit,
  isPidAlive,
  launchedFromProcess,
  ManagedProcess,
  removeOnExit,
} from './managed-process.util';
import { dataRootDir } from './project-root.util';

/**
 * Which storage FerretDB runs on: its embedded SQLite, or a PostgreSQL
 * cluster the launcher starts for it (see {@link chooseFerretDbBackend}).
 */
export type FerretDbBackend =
  | { kind: 'sqlite'; reason: string }
  | { kind: 'postgresql'; install: PostgresInstall; reason: string };

export const FERRETDB_BACKEND_VARIABLE = 'FERRETDB_BACKEND';

/**
 * `FERRETDB_BACKEND=sqlite|postgresql` forces one. Unset, a throwaway server
 * whose caller prefers PostgreSQL (the benchmark: the backend deployments of
 * FerretDB use) runs on it when its programs are installed, on SQLite
 * otherwise. Everyone else gets SQLite: FerretDB 1.24 on PostgreSQL answers
 * an update that breaks a unique index with InternalError instead of E11000,
 * so races the service answers with 409 (tests, soak, torture) became 500s.
 * A persistent server (`npm start`) stays on SQLite unless forced: a
 * developer's data lives in `.data/ferretdb`'s SQLite files, and switching
 * backends silently would hide it.
 */
export function chooseFerretDbBackend(
  env: NodeJS.ProcessEnv,
  { persistent, preferPostgres }: { persistent: boolean; preferPostgres: boolean },
  locate: () => PostgresInstall | undefined,
): FerretDbBackend {
  const wanted = env[FERRETDB_BACKEND_VARIABLE]?.trim().toLowerCase() ?? '';
  if (wanted === 'sqlite') return { kind: 'sqlite', reason: `${FERRETDB_BACKEND_VARIABLE}=sqlite` };
  if (wanted === 'postgresql') {
    const install = locate();
    if (install === undefined) {
      throw new Error(
        `${FERRETDB_BACKEND_VARIABLE}=postgresql, but PostgreSQL's initdb, postgres and createdb were found ` +
          'neither in POSTGRESQL_BIN_DIR, /usr/lib/postgresql/<version>/bin nor on PATH.',
      );
    }
    return { kind: 'postgresql', install, reason: `${FERRETDB_BACKEND_VARIABLE}=postgresql` };
  }
  if (wanted !== '') {
    throw new Error(
      `${FERRETDB_BACKEND_VARIABLE} must be "sqlite" or "postgresql" (or unset), not "${wanted}".`,
    );
  }
  if (persistent) return { kind: 'sqlite', reason: 'a persistent data dir keeps SQLite' };
  if (!preferPostgres) {
    return {
      kind: 'sqlite',
      reason: `the default; ${FERRETDB_BACKEND_VARIABLE}=postgresql for PostgreSQL`,
    };
  }
  const install = locate();
  return install === undefined
    ? { kind: 'sqlite', reason: 'no PostgreSQL installed' }
    : { kind: 'postgresql', install, reason: 'PostgreSQL is installed' };
}

/** "FerretDB 1.24 on PostgreSQL 15 (...)" or "FerretDB 1.24 on SQLite (...)", for the launcher's log. */
export function describeFerretDb(
  version: string | undefined,
  backend: FerretDbBackend,
  where: string,
): string {
  const release = /^v?(\d+\.\d+)/.exec(version ?? '')?.[1];
  const ferret = `FerretDB${release === undefined ? '' : ` ${release}`}`;
  const on =
    backend.kind === 'postgresql'
      ? `PostgreSQL${backend.install.version === '' ? '' : ` ${backend.install.version}`}`
      : 'SQLite';
  return `${ferret} on ${on} (${[where, backend.reason].join('; ')})`;
}

/**
 * Command line for FerretDB 1.x on SQLite, or on PostgreSQL at `postgresqlUrl`.
 * `--debug-addr` on port 0: the default 8088 would make a second instance
 * (parallel test workers, dev server + tests) fail to start.
 */
export function ferretDbArgs(
  dataDir: string,
  port: number,
  host: string = LOOPBACK,
  postgresqlUrl?: string,
): string[] {
  return [
    ...(postgresqlUrl === undefined
      ? [
          '--handler=sqlite',
          // Percent-encoded so a data dir with spaces still parses as a file: URL.
          `--sqlite-url=file:${pathToFileURL(dataDir).pathname.replace(/\/?$/, '/')}`,
        ]
      : ['--handler=postgresql', `--postgresql-url=${postgresqlUrl}`]),
    `--state-dir=${dataDir}`,
    `--listen-addr=${host}:${port}`,
    `--debug-addr=${LOOPBACK}:0`,
    '--telemetry=disable',
    '--log-level=error',
  ];
}

const PID_FILE = 'ferretdb.pid';

interface PidRecord {
  pid: number;
  ownerPid: number;
  port: number;
}

export async function startFerretDb(
  binary: string,
  ctx: StartContext,
  backend: FerretDbBackend = { kind: 'sqlite', reason: 'default' },
): Promise<LaunchedMongo> {
  const persistent = ctx.persistent || ctx.dataDir !== undefined;
  const dataDir =
    ctx.dataDir ??
    (persistent
      ? join(dataRootDir(ctx.projectRoot), 'ferretdb')
      : mkdtempSync(join(tmpdir(), 'ferretdb-')));
  mkdirSync(dataDir, { recursive: true });
  if (persistent) await reclaimDataDir(dataDir, ctx.log);

  // Its own directory, not inside FerretDB's: as root the cluster runs as
  // another account, which must own it (and cannot enter a private temp dir).
  let postgres: PostgresCluster | undefined;
  let postgresDir: string | undefined;
  if (backend.kind === 'postgresql') {
    postgresDir = persistent
      ? join(dataDir, 'postgresql')
      : mkdtempSync(join(tmpdir(), 'ferretdb-postgresql-'));
    if (!persistent) removeOnExit(postgresDir);
    try {
      postgres = await startPostgres(backend.install, postgresDir, {
        durable: persistent,
        log: ctx.log,
        readyTimeoutMs: ctx.readyTimeoutMs,
      });
    } catch (error) {
      if (!persistent) {
        rmSync(dataDir, { recursive: true, force: true });
        rmSync(postgresDir, { recursive: true, force: true });
      }
      throw error;
    }
  }
  const disposePostgres = async (): Promise<void> => {
    await postgres?.stop();
    if (!persistent && postgresDir !== undefined) {
      rmSync(postgresDir, { recursive: true, force: true });
      forgetOnExit(postgresDir);
    }
  };

  const logFile = join(dataDir, 'ferretdb.log');
  const server = new ManagedProcess({
    name: 'FerretDB',
    command: binary,
    args: (port) => ferretDbArgs(dataDir, port, LOOPBACK, postgres?.url),
    cwd: dataDir,
    env: ctx.env,
    logFile,
    readyTimeoutMs: ctx.readyTimeoutMs,
    log: ctx.log,
  });
  try {
    await server.startOnFreePort();
  } catch (error) {
    await disposePostgres();
    if (!persistent) rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  const pidFile = join(dataDir, PID_FILE);
  return launchedFromProcess({
    kind: 'ferretdb',
    process: server,
    dataDir,
    logFile,
    removeDataDirOnStop: !persistent,
    afterStart: () => {
      const record: PidRecord = { pid: server.pid ?? 0, ownerPid: process.pid, port: server.port };
      writeFileSync(pidFile, JSON.stringify(record));
    },
    afterStop: () => rmSync(pidFile, { force: true }),
    // FerretDB restarts (an outage test) keep the cluster; only the final stop ends it.
    afterFinalStop: disposePostgres,
    backendPid: () => postgres?.pid,
  });
}

/**
 * A persistent data dir outlives processes. If a FerretDB from an earlier run
 * still serves it because its owner died without cleaning up (kill -9,
 * crashed IDE), stop that orphan; two servers on one SQLite dir would fight
 * over it. If its owner is alive, the dir is in use: refuse instead.
 */
async function reclaimDataDir(dataDir: string, log: LauncherLog): Promise<void> {
  const record = readPidRecord(join(dataDir, PID_FILE));
  if (record === undefined || !isPidAlive(record.pid) || !servesDataDir(record.pid, dataDir))
    return;
  if (record.ownerPid !== process.pid && isPidAlive(record.ownerPid)) {
    throw new Error(
      `FerretDB data dir ${dataDir} is in use by FerretDB pid ${record.pid} (started by pid ${record.ownerPid}), ` +
        `listening on mongodb://${LOOPBACK}:${record.port}. Stop that process, or use it with ` +
        `MONGODB_URI=mongodb://${LOOPBACK}:${record.port}.`,
    );
  }
  log(
    `Stopping orphaned FerretDB (pid ${record.pid}) left running on ${dataDir} by an earlier run.`,
  );
  process.kill(record.pid, 'SIGTERM');
  for (let waited = 0; waited < 5000 && isPidAlive(record.pid); waited += 100) await sleep(100);
  if (isPidAlive(record.pid)) process.kill(record.pid, 'SIGKILL');
}

function readPidRecord(file: string): PidRecord | undefined {
  try {
    const record = JSON.parse(readFileSync(file, 'utf8')) as Partial<PidRecord>;
    if (
      typeof record.pid === 'number' &&
      typeof record.ownerPid === 'number' &&
      typeof record.port === 'number'
    ) {
      return { pid: record.pid, ownerPid: record.ownerPid, port: record.port };
    }
  } catch {
    // Missing or torn: nothing to reclaim.
  }
  return undefined;
}

/** Guards against pid reuse: only a process whose command line names this dir is ours. */
function servesDataDir(pid: number, dataDir: string): boolean {
  try {
    const commandLine =
      process.platform === 'linux'
        ? readFileSync(`/proc/${pid}/cmdline`, 'utf8')
        : execFileSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8' });
    return commandLine.includes(`--state-dir=${dataDir}`);
  } catch {
    return false;
  }
}
