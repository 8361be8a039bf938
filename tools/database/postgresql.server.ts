import { execFile, spawn, type ChildProcess } from 'node:child_process';
import {
  chownSync,
  existsSync,
  mkdirSync,
  openSync,
  closeSync,
  readdirSync,
  readFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort, LOOPBACK } from '../lib/port';
import type { LauncherLog } from './launcher.types';
import { endWithOwner, isExecutableFile, isPidAlive, readLogTail } from './managed-process.util';

const run = promisify(execFile);

/** The PostgreSQL programs the launcher needs, all from one installation. */
export interface PostgresInstall {
  binDir: string;
  /** Major version, e.g. "15". */
  version: string;
}

const PROGRAMS = ['initdb', 'postgres', 'createdb'] as const;

/**
 * Where PostgreSQL's server programs are: `POSTGRESQL_BIN_DIR`, else the
 * newest Debian/Ubuntu `/usr/lib/postgresql/<major>/bin`, else a PATH
 * directory with all of them. Only the programs are needed: the launcher runs
 * its own throwaway cluster and never touches a system cluster.
 */
export function locatePostgres(
  env: NodeJS.ProcessEnv,
  listDebianVersions: () => string[] = debianVersions,
): PostgresInstall | undefined {
  const candidates: string[] = [];
  const explicit = env.POSTGRESQL_BIN_DIR?.trim();
  if (explicit) candidates.push(explicit);
  for (const version of listDebianVersions()) candidates.push(`/usr/lib/postgresql/${version}/bin`);
  for (const dir of (env.PATH ?? '').split(':')) if (dir !== '') candidates.push(dir);
  for (const binDir of candidates) {
    if (PROGRAMS.every((program) => isExecutableFile(join(binDir, program)))) {
      return { binDir, version: /\/postgresql\/(\d+)\/bin$/.exec(binDir)?.[1] ?? '' };
    }
  }
  return undefined;
}

function debianVersions(): string[] {
  try {
    return readdirSync('/usr/lib/postgresql')
      .filter((name) => /^\d+$/.test(name))
      .sort((a, b) => Number(b) - Number(a));
  } catch {
    return [];
  }
}

/** The user a cluster runs as: PostgreSQL refuses to run as root. */
export interface RunAs {
  uid: number;
  gid: number;
  name: string;
}

/**
 * As root, the cluster runs as the `postgres` system account (or `nobody`),
 * owning only the cluster's own directory; otherwise as the current user.
 */
export function unprivilegedUser(passwd = readPasswd()): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of ['postgres', 'nobody']) {
    const entry = passwd.find((fields) => fields[0] === name);
    if (entry !== undefined) return { name, uid: Number(entry[2]), gid: Number(entry[3]) };
  }
  throw new Error(
    'Running as root, and neither a postgres nor a nobody account exists to run PostgreSQL as.',
  );
}

function readPasswd(): string[][] {
  try {
    return readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .map((line) => line.split(':'));
  } catch {
    return [];
  }
}

export interface PostgresCluster {
  /** `postgres://ferretdb@127.0.0.1:<port>/ferretdb`, for FerretDB's `--postgresql-url`. */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  readonly version: string;
  readonly pid: number | undefined;
  /** Fast shutdown (SIGINT); SIGKILL if it takes longer than `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

const DATABASE = 'ferretdb';
const USER = 'ferretdb';

/**
 * Starts a private PostgreSQL cluster in `dataDir` (initialised on first use)
 * on a free loopback port with its socket inside `dataDir`, and creates the
 * `ferretdb` database. A throwaway cluster (`durable: false`) runs without
 * fsync: its data is removed on stop anyway, and tests and benchmarks should
 * not wait on the disk.
 */
export async function startPostgres(
  install: PostgresInstall,
  dataDir: string,
  options: { durable: boolean; log: LauncherLog; readyTimeoutMs: number },
): Promise<PostgresCluster> {
  const runAs = unprivilegedUser();
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (runAs !== undefined) chownSync(dataDir, runAs.uid, runAs.gid);
  const pgData = join(dataDir, 'pgdata');
  const asUser = runAs === undefined ? {} : { uid: runAs.uid, gid: runAs.gid };
  const env = { ...process.env, LC_ALL: 'C', TZ: 'UTC' };
  if (!existsSync(join(pgData, 'PG_VERSION'))) {
    await run(
      join(install.binDir, 'initdb'),
      ['-D', pgData, '-U', USER, '--auth=trust', '--encoding=UTF8', '--no-instructions'],
      { ...asUser, cwd: dataDir, env },
    );
  } else {
    stopOrphan(pgData, options.log);
  }

  const logFile = join(dataDir, 'postgresql.log');
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const logFd = openSync(logFile, 'a');
    let child: ChildProcess;
    try {
      if (runAs !== undefined) chownSync(logFile, runAs.uid, runAs.gid);
      child = spawn(
        join(install.binDir, 'postgres'),
        [
          ...['-D', pgData, '-p', String(port), '-h', LOOPBACK, '-k', dataDir],
          // Enough for a cluster of service processes and their pools behind FerretDB.
          ...['-c', 'max_connections=300'],
          ...(options.durable
            ? []
            : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']),
        ],
        { ...asUser, cwd: dataDir, env, stdio: ['ignore', logFd, logFd], detached: true },
      );
    } finally {
      closeSync(logFd);
    }
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    endWithOwner(child, 'SIGQUIT', options.durable ? undefined : dataDir);
    try {
      await createDatabase(
        install,
        port,
        options.readyTimeoutMs,
        () => child.exitCode !== null || child.signalCode !== null,
      );
    } catch (error) {
      child.kill('SIGKILL');
      await exited;
      const tail = readLogTail(logFile);
      if (/could not bind|address already in use/i.test(tail) && attempt < 3) continue;
      throw new Error(
        `PostgreSQL did not start: ${(error as Error).message}\nLast lines of ${logFile}:\n${tail}`,
        { cause: error },
      );
    }
    child.unref();
    const stop = async (graceMs = 10_000): Promise<void> => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.ref();
      // SIGINT is PostgreSQL's fast shutdown: ends sessions, checkpoints, exits.
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    };
    return {
      url: `postgres://${USER}@${LOOPBACK}:${port}/${DATABASE}`,
      port,
      dataDir,
      version: install.version,
      get pid() {
        return child.exitCode === null && child.signalCode === null ? child.pid : undefined;
      },
      stop,
    };
  }
}

/** Polls `createdb` until the server accepts connections (it refuses while starting). */
async function createDatabase(
  install: PostgresInstall,
  port: number,
  timeoutMs: number,
  exited: () => boolean,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await run(
        join(install.binDir, 'createdb'),
        ['-h', LOOPBACK, '-p', String(port), '-U', USER, DATABASE],
        {
          env: { ...process.env, PGCONNECT_TIMEOUT: '2' },
        },
      );
      return;
    } catch (error) {
      const message = String((error as { stderr?: unknown }).stderr ?? error);
      // A persistent cluster already has it.
      if (/already exists/.test(message)) return;
      if (exited()) throw new Error('the server exited during startup', { cause: error });
      if (Date.now() > deadline)
        throw new Error(`no connection within ${timeoutMs} ms: ${message.trim()}`, {
          cause: error,
        });
    }
    await sleep(100);
  }
}

/**
 * A persistent cluster whose owner died without stopping it (kill -9) still
 * holds its data dir; stop it, as the FerretDB in front of it is stopped.
 */
function stopOrphan(pgData: string, log: LauncherLog): void {
  try {
    const pid = Number(readFileSync(join(pgData, 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (
      pid > 0 &&
      isPidAlive(pid) &&
      readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(pgData)
    ) {
      log(`Stopping orphaned PostgreSQL (pid ${pid}) left running on ${pgData} by an earlier run.`);
      process.kill(pid, 'SIGQUIT');
    }
  } catch {
    // No pid file, or not ours: PostgreSQL itself refuses a data dir in use.
  }
}
