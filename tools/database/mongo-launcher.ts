import { relative } from 'node:path';
import {
  FERRETDB_VERSION,
  ferretDbToolPath,
  installFerretDb,
  locateFerretDb,
  readFerretDbVersion,
} from './ferretdb.installer';
import {
  chooseFerretDbBackend,
  describeFerretDb,
  startFerretDb,
  type FerretDbBackend,
} from './ferretdb.server';
import type { LaunchedMongo, LauncherLog, MongoKind, StartContext } from './launcher.types';
import { findExecutable } from './managed-process.util';
import { startMemoryServer } from './memory-server.server';
import { startMongod } from './mongod.server';
import { locatePostgres, type PostgresInstall } from './postgresql.server';
import { findProjectRoot } from './project-root.util';

export type {
  LaunchedMongo,
  LauncherLog,
  MongoKind,
  StartContext,
  StopProcessOptions,
} from './launcher.types';

/** Contract order; see {@link launchMongo}. */
export const DEFAULT_KINDS: readonly MongoKind[] = [
  'external',
  'mongod',
  'ferretdb',
  'memory-server',
];

export interface LaunchMongoOptions {
  /**
   * Keep data across runs in `<project>/.data/<kind>` (what `npm start` wants).
   * Default: a fresh temp dir, removed by `stop()` (what tests want).
   */
  persistent?: boolean;
  /** Explicit persistent data directory (implies `persistent`). */
  dataDir?: string;
  /**
   * Which sources to consider, in contract order. E.g. `['ferretdb']` for a
   * test that needs a stoppable server even when MONGODB_URI is set.
   * Building FerretDB stays the last resort whenever 'ferretdb' is included.
   */
  kinds?: readonly MongoKind[];
  /**
   * Run a throwaway FerretDB on PostgreSQL when it is installed (the
   * benchmark). Default false: SQLite. `FERRETDB_BACKEND` overrides both.
   */
  preferPostgres?: boolean;
  /** Allow building FerretDB with Go as the last resort. Default true. */
  allowBuild?: boolean;
  projectRoot?: string;
  /** Environment to read MONGODB_URI and PATH from. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Progress messages. Default: stderr with a `[mongo-launcher]` prefix. */
  log?: LauncherLog;
  /** How long a started server may take to answer `ping`. Default 30 s. */
  readyTimeoutMs?: number;
  /** How long to wait for the mongod download host before giving up on it. Default 5 s. */
  downloadProbeTimeoutMs?: number;
}

/** The side effects of {@link launchMongo}, replaceable in tests. */
export interface LauncherDeps {
  findExecutable(name: string, env: NodeJS.ProcessEnv): string | undefined;
  locateFerretDb(ctx: StartContext): Promise<string | undefined>;
  startMongod(binary: string, ctx: StartContext): Promise<LaunchedMongo>;
  startFerretDb(
    binary: string,
    ctx: StartContext,
    backend: FerretDbBackend,
  ): Promise<LaunchedMongo>;
  /** The version a FerretDB binary reports, e.g. `v1.24.2`. */
  ferretDbVersion(binary: string): Promise<string | undefined>;
  /** PostgreSQL's server programs, for FerretDB's PostgreSQL backend. */
  locatePostgres(env: NodeJS.ProcessEnv): PostgresInstall | undefined;
  startMemoryServer(ctx: StartContext): Promise<LaunchedMongo>;
  /** Builds FerretDB; resolves to the binary path. */
  installFerretDb(ctx: StartContext, reason: string): Promise<string>;
}

export const defaultLauncherDeps: LauncherDeps = {
  findExecutable,
  locateFerretDb: (ctx) => locateFerretDb(ctx.projectRoot, ctx.env, ctx.log),
  startMongod,
  startFerretDb,
  ferretDbVersion: readFerretDbVersion,
  locatePostgres: (env) => locatePostgres(env),
  startMemoryServer,
  installFerretDb: async (ctx, reason) =>
    (await installFerretDb({ projectRoot: ctx.projectRoot, env: ctx.env, log: ctx.log, reason }))
      .binaryPath,
};

const defaultLog: LauncherLog = (message) => process.stderr.write(`[mongo-launcher] ${message}\n`);

/**
 * A MongoDB-compatible server for development, tests and benchmarks: the first of
 * 1. `MONGODB_URI`, if set (nothing is started);
 * 2. `mongod` on PATH;
 * 3. FerretDB 1.x (on PATH, or `<project>/.tools/bin/ferretdb`), on a private PostgreSQL
 *    cluster when the caller prefers it and PostgreSQL is installed, else on SQLite
 *    (see {@link chooseFerretDbBackend});
 * 4. mongodb-memory-server, if its mongod is cached or downloadable (checked quickly first);
 * 5. FerretDB built with Go into `.tools/bin` (one-off);
 * otherwise an error saying how to get one of them.
 * Resolves once the server answers `ping`. A server started here is killed when this process exits.
 */
export async function launchMongo(
  options: LaunchMongoOptions = {},
  deps: Partial<LauncherDeps> = {},
): Promise<LaunchedMongo> {
  const d: LauncherDeps = { ...defaultLauncherDeps, ...deps };
  const kinds = new Set(options.kinds ?? DEFAULT_KINDS);
  const ctx: StartContext = {
    projectRoot: options.projectRoot ?? findProjectRoot(),
    persistent: options.persistent === true || options.dataDir !== undefined,
    dataDir: options.dataDir,
    env: options.env ?? process.env,
    log: options.log ?? defaultLog,
    readyTimeoutMs: options.readyTimeoutMs ?? 30_000,
    downloadProbeTimeoutMs: options.downloadProbeTimeoutMs ?? 5_000,
  };
  const { log } = ctx;
  // What was ruled out and why, for the final error.
  const tried: string[] = [];

  if (kinds.has('external')) {
    const uri = ctx.env.MONGODB_URI?.trim();
    if (uri !== undefined && uri !== '') return externalServer(uri);
    tried.push('MONGODB_URI is not set');
  }

  if (kinds.has('mongod')) {
    const mongod = d.findExecutable('mongod', ctx.env);
    if (mongod !== undefined) {
      // A mongod that is there but fails to start is a real problem to show, not to paper over.
      return announce(await d.startMongod(mongod, ctx), `mongod (${mongod})`, log);
    }
    tried.push('no `mongod` on PATH');
  }

  // Decided before anything starts, so a bad FERRETDB_BACKEND fails at once.
  const ferretDb = async (binary: string): Promise<LaunchedMongo> => {
    const backend = chooseFerretDbBackend(
      ctx.env,
      { persistent: ctx.persistent, preferPostgres: options.preferPostgres === true },
      () => d.locatePostgres(ctx.env),
    );
    const description = describeFerretDb(await d.ferretDbVersion(binary), backend, binary);
    return announce(await d.startFerretDb(binary, ctx, backend), description, log);
  };

  if (kinds.has('ferretdb')) {
    const ferretdb = await d.locateFerretDb(ctx);
    if (ferretdb !== undefined) return ferretDb(ferretdb);
    tried.push(
      `no FerretDB 1.x on PATH or at ${relative(ctx.projectRoot, ferretDbToolPath(ctx.projectRoot))}`,
    );
  }

  if (kinds.has('memory-server')) {
    try {
      return announce(await d.startMemoryServer(ctx), 'mongodb-memory-server', log);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      tried.push(`mongodb-memory-server failed: ${reason}`);
      log(`mongodb-memory-server unavailable: ${reason}`);
    }
  }

  if (kinds.has('ferretdb') && options.allowBuild !== false) {
    if (d.findExecutable('go', ctx.env) !== undefined) {
      const binary = await d.installFerretDb(ctx, 'No MongoDB found');
      return ferretDb(binary);
    }
    tried.push('no `go` on PATH to build FerretDB');
  }

  throw new Error(
    [
      'No MongoDB-compatible database is available.',
      ...tried.map((line) => `  - ${line}`),
      'Do one of:',
      '  1. set MONGODB_URI to a running MongoDB (e.g. MONGODB_URI=mongodb://127.0.0.1:27017);',
      '  2. install MongoDB so that `mongod` is on PATH;',
      `  3. install Go (https://go.dev/dl/) so FerretDB ${FERRETDB_VERSION} can be built (npm run db:install);`,
      '  4. give this machine internet access so mongodb-memory-server can download mongod.',
    ].join('\n'),
  );
}

function announce(server: LaunchedMongo, what: string, log: LauncherLog): LaunchedMongo {
  const where = server.dataDir !== undefined ? `, data in ${server.dataDir}` : '';
  log(`Started ${what} at ${server.uri}${where}`);
  // Not a spread: the servers' `pid` is a getter.
  return Object.assign(server, { description: what });
}

function externalServer(uri: string): LaunchedMongo {
  const notOurs = (): Promise<never> =>
    Promise.reject(
      new Error('The database comes from MONGODB_URI; this process cannot stop or start it.'),
    );
  return {
    uri,
    kind: 'external',
    stop: () => Promise.resolve(),
    stopProcess: notOurs,
    startProcess: notOurs,
    restart: notOurs,
  };
}
