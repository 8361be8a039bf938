import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { LaunchedMongo, StartContext, StopProcessOptions } from './launcher.types';
import { LOOPBACK } from '../lib/port';
import { pingMongo } from './managed-process.util';
import { dataRootDir } from './project-root.util';
import { checkReachable } from './reachability.util';

type MemoryServerModule = typeof import('mongodb-memory-server-core');
type ResolveConfigModule = typeof import('mongodb-memory-server-core/lib/util/resolveConfig');
type DownloadUrlModule =
  typeof import('mongodb-memory-server-core/lib/util/MongoBinaryDownloadUrl');

/**
 * mongodb-memory-server-core is a devDependency: loaded only when this
 * fallback is reached, so production images never need it. A lazy require
 * rather than `import()`: with CommonJS output that stays a native ESM import,
 * which Jest's VM cannot run without flags and which needs file extensions
 * for the internal modules used below.
 */
const lazyRequire = createRequire(__filename);

function loadMemoryServer(): MemoryServerModule {
  try {
    return lazyRequire('mongodb-memory-server-core') as MemoryServerModule;
  } catch (error) {
    throw new Error(`mongodb-memory-server-core is not installed (${(error as Error).message})`, {
      cause: error,
    });
  }
}

/**
 * Throws at once when mongod would have to be downloaded and cannot be.
 * A binary already in mongodb-memory-server's cache needs no network.
 */
async function assertBinaryObtainable(mms: MemoryServerModule, ctx: StartContext): Promise<void> {
  const { DryMongoBinary } = mms;
  const binaryOptions = DryMongoBinary.getEnsuredOptions();
  if ((await DryMongoBinary.locateBinary(binaryOptions)) !== undefined) return;

  const { envToBool, resolveConfig, ResolveConfigVariables } = lazyRequire(
    'mongodb-memory-server-core/lib/util/resolveConfig',
  ) as ResolveConfigModule;
  if (!envToBool(resolveConfig(ResolveConfigVariables.RUNTIME_DOWNLOAD))) {
    throw new Error('no mongod binary in its cache and MONGOMS_RUNTIME_DOWNLOAD is off');
  }
  const { MongoBinaryDownloadUrl } = lazyRequire(
    'mongodb-memory-server-core/lib/util/MongoBinaryDownloadUrl',
  ) as DownloadUrlModule;
  const url = await new MongoBinaryDownloadUrl(
    await DryMongoBinary.generateOptions(binaryOptions),
  ).getDownloadUrl();
  const reachable = await checkReachable(url, ctx.downloadProbeTimeoutMs);
  if (!reachable.ok) {
    throw new Error(
      `mongod ${binaryOptions.version} cannot be downloaded: ${new URL(url).host}: ${reachable.reason}`,
    );
  }
  ctx.log(
    `Downloading mongod ${binaryOptions.version} for mongodb-memory-server (one-off, cached afterwards)...`,
  );
}

export async function startMemoryServer(ctx: StartContext): Promise<LaunchedMongo> {
  const mms = loadMemoryServer();
  await assertBinaryObtainable(mms, ctx);

  const persistent = ctx.persistent || ctx.dataDir !== undefined;
  const dbPath = persistent
    ? (ctx.dataDir ?? join(dataRootDir(ctx.projectRoot), 'mongodb-memory-server'))
    : undefined;
  if (dbPath !== undefined) mkdirSync(dbPath, { recursive: true });
  const server = await mms.MongoMemoryServer.create({
    instance: {
      ip: LOOPBACK,
      dbPath,
      // The in-memory engine would silently lose "persistent" data.
      storageEngine: dbPath !== undefined ? 'wiredTiger' : undefined,
      launchTimeout: ctx.readyTimeoutMs,
    },
  });
  const uri = server.getUri().replace(/\/$/, '');
  try {
    await pingMongo(uri, ctx.readyTimeoutMs);
  } catch (error) {
    await server.stop({ doCleanup: !persistent, force: false });
    throw error;
  }

  let stopped = false;
  const stopProcess = async (options: StopProcessOptions = {}): Promise<void> => {
    if (options.force === true) server.instanceInfo?.instance.mongodProcess?.kill('SIGKILL');
    await server.stop({ doCleanup: false, force: false });
  };
  const startProcess = async (): Promise<void> => {
    if (stopped) throw new Error('This memory-server was stopped for good; launch a new one.');
    // true: same port, so the URI handed out stays valid.
    await server.start(true);
    await pingMongo(uri, ctx.readyTimeoutMs);
  };
  return {
    uri,
    kind: 'memory-server',
    dataDir: server.instanceInfo?.dbPath,
    get pid() {
      return server.instanceInfo?.instance.mongodProcess?.pid;
    },
    stopProcess,
    startProcess,
    restart: async () => {
      await stopProcess();
      await startProcess();
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      // Removes only the temp dir it created itself, never a dbPath we passed.
      await server.stop({ doCleanup: true, force: false });
    },
  };
}
