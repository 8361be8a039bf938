import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import type { LaunchedMongo, LauncherLog, StartContext } from './launcher.types';
import { LOOPBACK } from '../lib/port';
import { isPidAlive, launchedFromProcess, ManagedProcess } from './managed-process.util';
import { dataRootDir } from './project-root.util';

/**
 * Command line for FerretDB 1.x on its embedded SQLite backend.
 * `--debug-addr` on port 0: the default 8088 would make a second instance
 * (parallel test workers, dev server + tests) fail to start.
 */
export function ferretDbArgs(dataDir: string, port: number, host: string = LOOPBACK): string[] {
  return [
    '--handler=sqlite',
    // Percent-encoded so a data dir with spaces still parses as a file: URL.
    `--sqlite-url=file:${pathToFileURL(dataDir).pathname.replace(/\/?$/, '/')}`,
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

export async function startFerretDb(binary: string, ctx: StartContext): Promise<LaunchedMongo> {
  const persistent = ctx.persistent || ctx.dataDir !== undefined;
  const dataDir =
    ctx.dataDir ??
    (persistent
      ? join(dataRootDir(ctx.projectRoot), 'ferretdb')
      : mkdtempSync(join(tmpdir(), 'ferretdb-')));
  mkdirSync(dataDir, { recursive: true });
  if (persistent) await reclaimDataDir(dataDir, ctx.log);

  const logFile = join(dataDir, 'ferretdb.log');
  const server = new ManagedProcess({
    name: 'FerretDB',
    command: binary,
    args: (port) => ferretDbArgs(dataDir, port),
    cwd: dataDir,
    env: ctx.env,
    logFile,
    readyTimeoutMs: ctx.readyTimeoutMs,
    log: ctx.log,
  });
  try {
    await server.startOnFreePort();
  } catch (error) {
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
