import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LaunchedMongo, StartContext } from './launcher.types';
import { LOOPBACK } from '../lib/port';
import { launchedFromProcess, ManagedProcess } from './managed-process.util';
import { dataRootDir } from './project-root.util';

export function mongodArgs(dataDir: string, port: number): string[] {
  // No unix socket: we connect over TCP, and /tmp/mongodb-<port>.sock can be left stale or owned by another user.
  return ['--dbpath', dataDir, '--port', String(port), '--bind_ip', LOOPBACK, '--nounixsocket'];
}

export async function startMongod(binary: string, ctx: StartContext): Promise<LaunchedMongo> {
  const persistent = ctx.persistent || ctx.dataDir !== undefined;
  const dataDir =
    ctx.dataDir ??
    (persistent
      ? join(dataRootDir(ctx.projectRoot), 'mongod')
      : mkdtempSync(join(tmpdir(), 'mongod-')));
  mkdirSync(dataDir, { recursive: true });
  const logFile = join(dataDir, 'mongod.log');
  const server = new ManagedProcess({
    name: 'mongod',
    command: binary,
    args: (port) => mongodArgs(dataDir, port),
    env: ctx.env,
    logFile,
    readyTimeoutMs: ctx.readyTimeoutMs,
    log: ctx.log,
    // mongod flushes and checkpoints on SIGTERM; give it longer than FerretDB.
    stopGraceMs: 15_000,
  });
  try {
    await server.startOnFreePort();
  } catch (error) {
    if (!persistent) rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  return launchedFromProcess({
    kind: 'mongod',
    process: server,
    dataDir,
    logFile,
    removeDataDirOnStop: !persistent,
  });
}
