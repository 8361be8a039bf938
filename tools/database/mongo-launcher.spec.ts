import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { MongoClient } from 'mongodb';
import { compileProject } from '../lib/build';
import { chooseFerretDbBackend, ferretDbArgs, type FerretDbBackend } from './ferretdb.server';
import { installFerretDb, locateFerretDb } from './ferretdb.installer';
import type { LaunchedMongo, MongoKind, StartContext } from './launcher.types';
import { isPidAlive, pingMongo } from './managed-process.util';
import { launchMongo, type LauncherDeps } from './mongo-launcher';
import { locatePostgres, unprivilegedUser, type PostgresInstall } from './postgresql.server';
import { findProjectRoot } from './project-root.util';
import { checkReachable } from './reachability.util';

const quiet = (): void => undefined;

function fakeServer(kind: MongoKind, uri = `mongodb://fake-${kind}:1`): LaunchedMongo {
  const noop = () => Promise.resolve();
  return { uri, kind, stop: noop, stopProcess: noop, startProcess: noop, restart: noop };
}

/**
 * Every side effect replaced; a test states what the machine "has" and the
 * recorded calls show which branch ran.
 */
function fakeMachine(machine: {
  onPath?: string[];
  ferretdb?: string;
  memoryServer?: 'works' | 'fails';
  mongodFails?: boolean;
  postgres?: PostgresInstall;
}) {
  const calls: string[] = [];
  const backends: FerretDbBackend[] = [];
  const contexts: StartContext[] = [];
  const deps: LauncherDeps = {
    findExecutable: (name) =>
      machine.onPath?.includes(name) === true ? `/bin/${name}` : undefined,
    locateFerretDb: (ctx) => {
      calls.push('locateFerretDb');
      contexts.push(ctx);
      return Promise.resolve(machine.ferretdb);
    },
    startMongod: (binary, ctx) => {
      calls.push(`startMongod ${binary}`);
      contexts.push(ctx);
      return machine.mongodFails === true
        ? Promise.reject(new Error('mongod exited during startup'))
        : Promise.resolve(fakeServer('mongod'));
    },
    startFerretDb: (binary, ctx, backend) => {
      calls.push(`startFerretDb ${binary}`);
      contexts.push(ctx);
      backends.push(backend);
      return Promise.resolve(fakeServer('ferretdb'));
    },
    ferretDbVersion: () => Promise.resolve('v1.24.2'),
    locatePostgres: () => machine.postgres,
    startMemoryServer: () => {
      calls.push('startMemoryServer');
      return machine.memoryServer === 'works'
        ? Promise.resolve(fakeServer('memory-server'))
        : Promise.reject(new Error('fastdl.mongodb.org: getaddrinfo ENOTFOUND'));
    },
    installFerretDb: (_ctx, reason) => {
      calls.push(`installFerretDb (${reason})`);
      return Promise.resolve('/project/.tools/bin/ferretdb');
    },
  };
  return { deps, calls, contexts, backends };
}

describe('launchMongo: which source is picked', () => {
  const base = { projectRoot: '/project', log: quiet };

  it('returns MONGODB_URI as is and starts nothing', async () => {
    const { deps, calls } = fakeMachine({ onPath: ['mongod', 'go'], ferretdb: '/bin/ferretdb' });
    const server = await launchMongo(
      { ...base, env: { MONGODB_URI: 'mongodb://db.example:27017/x' } },
      deps,
    );
    expect(server.uri).toBe('mongodb://db.example:27017/x');
    expect(server.kind).toBe('external');
    expect(calls).toEqual([]);
    await expect(server.stop()).resolves.toBeUndefined();
    await expect(server.stopProcess()).rejects.toThrow(/MONGODB_URI/);
  });

  it('treats a blank MONGODB_URI as unset', async () => {
    const { deps, calls } = fakeMachine({ onPath: ['mongod'] });
    const server = await launchMongo({ ...base, env: { MONGODB_URI: '  ' } }, deps);
    expect(server.kind).toBe('mongod');
    expect(calls).toEqual(['startMongod /bin/mongod']);
  });

  it('ignores MONGODB_URI when "external" is not among the kinds', async () => {
    const { deps, calls } = fakeMachine({ ferretdb: '/bin/ferretdb' });
    const server = await launchMongo(
      { ...base, env: { MONGODB_URI: 'mongodb://db.example:27017' }, kinds: ['ferretdb'] },
      deps,
    );
    expect(server.kind).toBe('ferretdb');
    expect(calls).toEqual(['locateFerretDb', 'startFerretDb /bin/ferretdb']);
  });

  it('prefers mongod on PATH over FerretDB and passes persistence on', async () => {
    const { deps, calls, contexts } = fakeMachine({
      onPath: ['mongod', 'go'],
      ferretdb: '/bin/ferretdb',
    });
    const server = await launchMongo({ ...base, env: {}, persistent: true }, deps);
    expect(server.kind).toBe('mongod');
    expect(calls).toEqual(['startMongod /bin/mongod']);
    expect(contexts[0]).toMatchObject({ projectRoot: '/project', persistent: true });
  });

  it('surfaces a failing mongod instead of silently falling back', async () => {
    const { deps, calls } = fakeMachine({
      onPath: ['mongod', 'go'],
      ferretdb: '/bin/ferretdb',
      mongodFails: true,
    });
    await expect(launchMongo({ ...base, env: {} }, deps)).rejects.toThrow(
      'mongod exited during startup',
    );
    expect(calls).toEqual(['startMongod /bin/mongod']);
  });

  it('uses an existing FerretDB before trying mongodb-memory-server', async () => {
    const { deps, calls, contexts } = fakeMachine({
      ferretdb: '/x/.tools/bin/ferretdb',
      memoryServer: 'works',
    });
    const server = await launchMongo({ ...base, env: {} }, deps);
    expect(server.kind).toBe('ferretdb');
    expect(calls).toEqual(['locateFerretDb', 'startFerretDb /x/.tools/bin/ferretdb']);
    expect(contexts[1]).toMatchObject({ persistent: false });
  });

  it('uses mongodb-memory-server when nothing is installed and it can get mongod', async () => {
    const { deps, calls } = fakeMachine({ onPath: ['go'], memoryServer: 'works' });
    const server = await launchMongo({ ...base, env: {} }, deps);
    expect(server.kind).toBe('memory-server');
    expect(calls).toEqual(['locateFerretDb', 'startMemoryServer']);
  });

  it('builds FerretDB with Go when mongodb-memory-server cannot download', async () => {
    const messages: string[] = [];
    const { deps, calls } = fakeMachine({ onPath: ['go'], memoryServer: 'fails' });
    const server = await launchMongo({ ...base, env: {}, log: (m) => messages.push(m) }, deps);
    expect(server.kind).toBe('ferretdb');
    expect(calls).toEqual([
      'locateFerretDb',
      'startMemoryServer',
      'installFerretDb (No MongoDB found)',
      'startFerretDb /project/.tools/bin/ferretdb',
    ]);
    expect(messages.join('\n')).toMatch(/mongodb-memory-server unavailable: .*ENOTFOUND/);
  });

  it('fails with every way out listed when there is no Go either', async () => {
    const { deps, calls } = fakeMachine({ memoryServer: 'fails' });
    const error = await launchMongo({ ...base, env: {} }, deps).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(calls).toEqual(['locateFerretDb', 'startMemoryServer']);
    expect(error?.message).toContain('MONGODB_URI is not set');
    expect(error?.message).toContain('ENOTFOUND');
    expect(error?.message).toContain('no `go` on PATH');
    for (const remedy of [
      'set MONGODB_URI',
      'install MongoDB so that `mongod`',
      'install Go',
      'internet access',
    ]) {
      expect(error?.message).toContain(remedy);
    }
  });

  it('does not build when allowBuild is false', async () => {
    const { deps, calls } = fakeMachine({ onPath: ['go'], memoryServer: 'fails' });
    await expect(launchMongo({ ...base, env: {}, allowBuild: false }, deps)).rejects.toThrow(
      /No MongoDB-compatible/,
    );
    expect(calls).toEqual(['locateFerretDb', 'startMemoryServer']);
  });

  it('with kinds ["ferretdb"] builds right away instead of trying the memory server', async () => {
    const { deps, calls } = fakeMachine({ onPath: ['go', 'mongod'], memoryServer: 'works' });
    const server = await launchMongo({ ...base, env: {}, kinds: ['ferretdb'] }, deps);
    expect(server.kind).toBe('ferretdb');
    expect(calls).toEqual([
      'locateFerretDb',
      'installFerretDb (No MongoDB found)',
      'startFerretDb /project/.tools/bin/ferretdb',
    ]);
  });
});

describe('launchMongo: which storage FerretDB runs on', () => {
  const postgres: PostgresInstall = { binDir: '/usr/lib/postgresql/15/bin', version: '15' };
  const launch = (
    machine: { postgres?: PostgresInstall },
    env: NodeJS.ProcessEnv,
    persistent = false,
    preferPostgres = true,
  ) => {
    const fake = fakeMachine({ ferretdb: '/bin/ferretdb', ...machine });
    const lines: string[] = [];
    const started = launchMongo(
      { projectRoot: '/project', env, persistent, preferPostgres, log: (line) => lines.push(line) },
      fake.deps,
    );
    return { ...fake, lines, started };
  };

  it('runs a throwaway server on PostgreSQL when asked and installed, and says so in one line', async () => {
    const { started, backends, lines } = launch({ postgres }, {});
    const server = await started;
    expect(backends.map((b) => b.kind)).toEqual(['postgresql']);
    expect(backends[0]).toMatchObject({ install: postgres });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^Started FerretDB 1\.24 on PostgreSQL 15 \(\/bin\/ferretdb; PostgreSQL is installed\)/,
    );
    expect(server.description).toMatch(/^FerretDB 1\.24 on PostgreSQL 15 /);
  });

  it('stays on SQLite unless the caller prefers PostgreSQL', async () => {
    const { started, backends, lines } = launch({ postgres }, {}, false, false);
    await started;
    expect(backends.map((b) => b.kind)).toEqual(['sqlite']);
    expect(lines[0]).toMatch(/^Started FerretDB 1\.24 on SQLite \(\/bin\/ferretdb; the default/);

    const forced = launch({ postgres }, { FERRETDB_BACKEND: 'postgresql' }, false, false);
    await forced.started;
    expect(forced.backends.map((b) => b.kind)).toEqual(['postgresql']);
  });

  it('falls back to SQLite without PostgreSQL', async () => {
    const { started, backends, lines } = launch({}, {});
    await started;
    expect(backends.map((b) => b.kind)).toEqual(['sqlite']);
    expect(lines[0]).toMatch(
      /^Started FerretDB 1\.24 on SQLite \(\/bin\/ferretdb; no PostgreSQL installed\)/,
    );
  });

  it('keeps a persistent server on SQLite unless told otherwise', async () => {
    const kept = launch({ postgres }, {}, true);
    await kept.started;
    expect(kept.backends.map((b) => b.kind)).toEqual(['sqlite']);

    const forced = launch({ postgres }, { FERRETDB_BACKEND: 'postgresql' }, true);
    await forced.started;
    expect(forced.backends.map((b) => b.kind)).toEqual(['postgresql']);
  });

  it('FERRETDB_BACKEND=sqlite forces SQLite even with PostgreSQL installed', async () => {
    const { started, backends, lines } = launch({ postgres }, { FERRETDB_BACKEND: ' SQLite ' });
    await started;
    expect(backends.map((b) => b.kind)).toEqual(['sqlite']);
    expect(lines[0]).toContain('FERRETDB_BACKEND=sqlite');
  });

  it('refuses FERRETDB_BACKEND=postgresql without PostgreSQL, and an unknown value, before starting anything', async () => {
    const missing = launch({}, { FERRETDB_BACKEND: 'postgresql' });
    await expect(missing.started).rejects.toThrow(/FERRETDB_BACKEND=postgresql, but PostgreSQL/);
    expect(missing.calls).toEqual(['locateFerretDb']);

    const unknown = launch({ postgres }, { FERRETDB_BACKEND: 'mysql' });
    await expect(unknown.started).rejects.toThrow(/must be "sqlite" or "postgresql"/);
    expect(unknown.calls).toEqual(['locateFerretDb']);
  });

  it('decides without looking for PostgreSQL when the answer does not depend on it', () => {
    const locate = jest.fn(() => postgres);
    const throwaway = { persistent: false, preferPostgres: true };
    expect(chooseFerretDbBackend({ FERRETDB_BACKEND: 'sqlite' }, throwaway, locate).kind).toBe(
      'sqlite',
    );
    expect(chooseFerretDbBackend({}, { ...throwaway, persistent: true }, locate).kind).toBe(
      'sqlite',
    );
    expect(chooseFerretDbBackend({}, { ...throwaway, preferPostgres: false }, locate).kind).toBe(
      'sqlite',
    );
    expect(locate).not.toHaveBeenCalled();
  });

  it('finds PostgreSQL in POSTGRESQL_BIN_DIR, the newest Debian version, or PATH', () => {
    const root = mkdtempSync(join(tmpdir(), 'pg-bin-'));
    const fakeInstall = (dir: string, programs = ['initdb', 'postgres', 'createdb']) => {
      mkdirSync(dir, { recursive: true });
      for (const program of programs) {
        writeFileSync(join(dir, program), '#!/bin/sh\n');
        chmodSync(join(dir, program), 0o755);
      }
      return dir;
    };
    try {
      const explicit = fakeInstall(join(root, 'explicit'));
      const onPath = fakeInstall(join(root, 'path'));
      const partial = fakeInstall(join(root, 'partial'), ['initdb']);
      const none = () => [];
      expect(locatePostgres({ POSTGRESQL_BIN_DIR: explicit, PATH: onPath }, none)).toEqual({
        binDir: explicit,
        version: '',
      });
      expect(locatePostgres({ PATH: `${partial}:${onPath}` }, none)?.binDir).toBe(onPath);
      expect(locatePostgres({ PATH: partial }, none)).toBeUndefined();
      // The Debian layout names the major version; the newest listed comes first.
      const found = locatePostgres({ PATH: onPath }, () => ['99', '15']);
      if (existsSync('/usr/lib/postgresql/15/bin/initdb')) {
        expect(found).toEqual({ binDir: '/usr/lib/postgresql/15/bin', version: '15' });
      } else {
        expect(found?.binDir).toBe(onPath);
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('runs the cluster as an unprivileged account when it is root', () => {
    const passwd = [
      ['root', 'x', '0', '0'],
      ['nobody', 'x', '65534', '65534'],
      ['postgres', 'x', '101', '104'],
    ];
    if (process.getuid?.() === 0) {
      expect(unprivilegedUser(passwd)).toEqual({ name: 'postgres', uid: 101, gid: 104 });
      expect(unprivilegedUser([passwd[0], passwd[1]])).toEqual({
        name: 'nobody',
        uid: 65534,
        gid: 65534,
      });
      expect(() => unprivilegedUser([passwd[0]])).toThrow(/neither a postgres nor a nobody/);
    } else {
      expect(unprivilegedUser(passwd)).toBeUndefined();
    }
  });

  it('passes the PostgreSQL URL to FerretDB instead of a SQLite directory', () => {
    const args = ferretDbArgs(
      '/data/state',
      4242,
      '127.0.0.1',
      'postgres://ferretdb@127.0.0.1:5/ferretdb',
    );
    expect(args.slice(0, 3)).toEqual([
      '--handler=postgresql',
      '--postgresql-url=postgres://ferretdb@127.0.0.1:5/ferretdb',
      '--state-dir=/data/state',
    ]);
    expect(args.some((arg) => arg.startsWith('--sqlite-url'))).toBe(false);
  });
});

describe('helpers', () => {
  it('finds the project root from tools/ and refuses a tree without package.json', () => {
    const root = findProjectRoot();
    expect(existsSync(join(root, 'package.json'))).toBe(true);
    expect(__dirname.startsWith(root)).toBe(true);
    const lonely = mkdtempSync(join(tmpdir(), 'no-project-'));
    try {
      // tmpdir itself might sit below some package.json on odd machines; only assert when it does not.
      if (!hasPackageJsonAbove(lonely))
        expect(() => findProjectRoot(lonely)).toThrow(/No package.json/);
    } finally {
      rmSync(lonely, { recursive: true, force: true });
    }
  });

  it('runs FerretDB on SQLite with a debug port that cannot collide', () => {
    const args = ferretDbArgs('/data/my db', 4242);
    expect(args).toEqual([
      '--handler=sqlite',
      '--sqlite-url=file:/data/my%20db/',
      '--state-dir=/data/my db',
      '--listen-addr=127.0.0.1:4242',
      '--debug-addr=127.0.0.1:0',
      '--telemetry=disable',
      '--log-level=error',
    ]);
  });
});

describe('checkReachable (fail-fast guard before downloading mongod)', () => {
  it('counts any HTTP answer as reachable', async () => {
    const server = createHttpServer((_req, res) => res.writeHead(404).end());
    const port = await listen(server);
    try {
      await expect(checkReachable(`http://127.0.0.1:${port}/x.tgz`, 2000, {})).resolves.toEqual({
        ok: true,
      });
    } finally {
      server.close();
    }
  });

  it('gives up after the timeout on a host that accepts but never answers', async () => {
    const sockets = new Set<import('node:net').Socket>();
    const server = createTcpServer((socket) => sockets.add(socket));
    const port = await listen(server);
    const started = Date.now();
    try {
      const result = await checkReachable(`https://127.0.0.1:${port}/`, 300, {});
      expect(result).toEqual({ ok: false, reason: 'no answer within 300 ms' });
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      for (const socket of sockets) socket.destroy();
      server.close();
    }
  });

  it('reports an unresolvable host', async () => {
    const result = await checkReachable('https://fastdl.mongodb.invalid/', 3000, {});
    expect(result.ok).toBe(false);
  });

  it('goes through an HTTP proxy when one is configured', async () => {
    const proxy = createHttpServer();
    const seen: string[] = [];
    proxy.on(
      'connect',
      (req: import('node:http').IncomingMessage, socket: import('node:net').Socket) => {
        seen.push(req.url ?? '');
        socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      },
    );
    const port = await listen(proxy);
    try {
      const result = await checkReachable('https://fastdl.mongodb.org/linux/x.tgz', 2000, {
        HTTPS_PROXY: `http://127.0.0.1:${port}`,
      });
      expect(seen).toEqual(['fastdl.mongodb.org:443']);
      expect(result).toEqual({ ok: false, reason: `proxy http://127.0.0.1:${port} answered 403` });
    } finally {
      proxy.close();
    }
  });
});

describe('mongodb-memory-server fallback', () => {
  it('either starts or gives up quickly, never hangs on the download', async () => {
    const started = Date.now();
    const outcome = await launchMongo({
      kinds: ['memory-server'],
      log: quiet,
      downloadProbeTimeoutMs: 3000,
    }).then(
      (server) => server,
      (error: unknown) => error as Error,
    );
    if (outcome instanceof Error) {
      expect(outcome.message).toMatch(/mongodb-memory-server failed/);
      expect(Date.now() - started).toBeLessThan(15_000);
    } else {
      // A machine with internet (or a cached mongod) really starts it.
      await pingMongo(outcome.uri, 5000);
      await outcome.stop();
    }
  }, 300_000);
});

describe('FerretDB (real process)', () => {
  const projectRoot = findProjectRoot();
  let binary: string | undefined;

  beforeAll(async () => {
    binary = await locateFerretDb(projectRoot, process.env, quiet);
    if (binary === undefined && hasGo())
      binary = (await installFerretDb({ projectRoot, log: quiet })).binaryPath;
    if (binary === undefined)
      console.warn('No FerretDB and no Go: skipping the real FerretDB tests.');
  }, 600_000);

  const launchFerret = (extra: { dataDir?: string } = {}) =>
    launchMongo({ kinds: ['ferretdb'], allowBuild: false, log: quiet, ...extra });

  it('starts, answers, survives stopProcess/startProcess on the same port, and cleans up', async () => {
    if (binary === undefined) return;
    const server = await launchFerret();
    expect(server.kind).toBe('ferretdb');
    expect(server.uri).toMatch(/^mongodb:\/\/127\.0\.0\.1:\d+$/);
    const dataDir = server.dataDir as string;
    const pid = server.pid as number;
    expect(isPidAlive(pid)).toBe(true);
    try {
      await withClient(server.uri, (db) => db.collection('things').insertOne({ name: 'kept' }));

      await server.stopProcess();
      expect(isPidAlive(pid)).toBe(false);
      expect(server.pid).toBeUndefined();
      await expect(pingMongo(server.uri, 300)).rejects.toThrow();

      await server.startProcess();
      expect(server.pid).not.toBe(pid);
      const doc = await withClient(server.uri, (db) =>
        db.collection('things').findOne({ name: 'kept' }),
      );
      expect(doc?.name).toBe('kept');

      await server.restart();
      await server.stopProcess({ force: true });
      await server.startProcess();
      await pingMongo(server.uri, 2000);

      // Our log file, not the console, gets the server's output.
      expect(existsSync(server.logFile as string)).toBe(true);
      expect(dirname(server.logFile as string)).toBe(dataDir);
    } finally {
      await server.stop();
    }
    expect(existsSync(dataDir)).toBe(false);
    await server.stop(); // idempotent
    await expect(server.startProcess()).rejects.toThrow(/stopped for good/);
  }, 60_000);

  it('on PostgreSQL: keeps the cluster across FerretDB restarts and removes it on stop', async () => {
    if (binary === undefined || locatePostgres(process.env) === undefined) return;
    const server = await launchMongo({
      kinds: ['ferretdb'],
      allowBuild: false,
      log: quiet,
      env: { ...process.env, FERRETDB_BACKEND: 'postgresql' },
    });
    const postgresPid = server.backendPid as number;
    const clusterDir = dirname(
      /-D\0([^\0]+)\0/.exec(readFileSync(`/proc/${postgresPid}/cmdline`, 'utf8'))?.[1] ?? '',
    );
    try {
      expect(server.description).toMatch(/^FerretDB 1\.\d+ on PostgreSQL \d+ /);
      expect(existsSync(join(clusterDir, 'pgdata', 'PG_VERSION'))).toBe(true);
      await withClient(server.uri, (db) => db.collection('things').insertOne({ name: 'in pg' }));
      await server.restart();
      expect(server.backendPid).toBe(postgresPid);
      const doc = await withClient(server.uri, (db) =>
        db.collection('things').findOne({ name: 'in pg' }),
      );
      expect(doc?.name).toBe('in pg');
    } finally {
      await server.stop();
    }
    expect(isPidAlive(postgresPid)).toBe(false);
    expect(existsSync(clusterDir)).toBe(false);
    expect(existsSync(server.dataDir as string)).toBe(false);
  }, 60_000);

  it('FERRETDB_BACKEND=sqlite runs on SQLite with no cluster behind it', async () => {
    if (binary === undefined) return;
    const server = await launchMongo({
      kinds: ['ferretdb'],
      allowBuild: false,
      log: quiet,
      env: { ...process.env, FERRETDB_BACKEND: 'sqlite' },
    });
    try {
      expect(server.description).toMatch(/ on SQLite /);
      expect(server.backendPid).toBeUndefined();
      await pingMongo(server.uri, 2000);
    } finally {
      await server.stop();
    }
  }, 60_000);

  it('runs several instances side by side (no fixed debug port)', async () => {
    if (binary === undefined) return;
    const servers = await Promise.all([launchFerret(), launchFerret(), launchFerret()]);
    try {
      expect(new Set(servers.map((s) => s.uri)).size).toBe(3);
      await Promise.all(servers.map((s) => pingMongo(s.uri, 2000)));
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
  }, 60_000);

  it('keeps a persistent data dir, refuses to share it, and reclaims it from an orphan', async () => {
    if (binary === undefined) return;
    const dataDir = mkdtempSync(join(tmpdir(), 'ferretdb-persistent-'));
    try {
      const first = await launchFerret({ dataDir });
      try {
        await withClient(first.uri, (db) => db.collection('c').insertOne({ v: 1 }));
      } finally {
        await first.stop();
      }
      expect(existsSync(dataDir)).toBe(true);

      const second = await launchFerret({ dataDir });
      try {
        expect(await withClient(second.uri, (db) => db.collection('c').countDocuments())).toBe(1);
      } finally {
        await second.stop();
      }

      // An orphan: a FerretDB on this dir whose recorded owner is dead.
      const orphan = spawn(binary, ferretDbArgs(dataDir, 0), { stdio: 'ignore', detached: true });
      orphan.unref();
      const deadOwner = spawnSync(process.execPath, [
        '-e',
        'process.stdout.write(String(process.pid))',
      ]);
      writeFileSync(
        join(dataDir, 'ferretdb.pid'),
        JSON.stringify({ pid: orphan.pid, ownerPid: Number(deadOwner.stdout.toString()), port: 1 }),
      );
      const third = await launchFerret({ dataDir });
      try {
        await waitFor(() => !isPidAlive(orphan.pid as number));
        expect(await withClient(third.uri, (db) => db.collection('c').countDocuments())).toBe(1);
      } finally {
        await third.stop();
        if (isPidAlive(orphan.pid as number)) process.kill(orphan.pid as number, 'SIGKILL');
      }

      // A live owner: the dir is in use and must not be taken over.
      const live = spawn(binary, ferretDbArgs(dataDir, 0), { stdio: 'ignore' });
      writeFileSync(
        join(dataDir, 'ferretdb.pid'),
        JSON.stringify({ pid: live.pid, ownerPid: process.ppid, port: 1 }),
      );
      try {
        await waitFor(() => isPidAlive(live.pid as number));
        await expect(launchFerret({ dataDir })).rejects.toThrow(/is in use by FerretDB pid/);
        expect(isPidAlive(live.pid as number)).toBe(true);
      } finally {
        live.kill('SIGKILL');
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  /** A `mongod` on PATH that is really FerretDB: exercises the mongod branch end to end without MongoDB. */
  function fakeMongodOnPath(body: string): { env: NodeJS.ProcessEnv; dir: string } {
    const dir = mkdtempSync(join(tmpdir(), 'fake-mongod-'));
    writeFileSync(join(dir, 'mongod'), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    return {
      env: { ...process.env, PATH: `${dir}:${process.env.PATH ?? ''}`, MONGODB_URI: '' },
      dir,
    };
  }

  it('starts a mongod from PATH with its own data dir and log', async () => {
    if (binary === undefined || process.platform === 'win32') return;
    const fake = fakeMongodOnPath(
      [
        'while [ $# -gt 0 ]; do case "$1" in --dbpath) D=$2; shift;; --port) P=$2; shift;; esac; shift; done',
        `exec ${JSON.stringify(binary)} --handler=sqlite --sqlite-url="file:$D/" --state-dir="$D" ` +
          '--listen-addr=127.0.0.1:$P --debug-addr=127.0.0.1:0 --telemetry=disable',
      ].join('\n'),
    );
    try {
      const server = await launchMongo({ env: fake.env, log: quiet });
      try {
        expect(server.kind).toBe('mongod');
        expect(server.logFile).toBe(join(server.dataDir as string, 'mongod.log'));
        await pingMongo(server.uri, 2000);
        await server.restart();
        await pingMongo(server.uri, 2000);
      } finally {
        await server.stop();
      }
      expect(existsSync(server.dataDir as string)).toBe(false);
    } finally {
      rmSync(fake.dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('reports why a server died during startup, with the end of its log', async () => {
    if (process.platform === 'win32') return;
    const fake = fakeMongodOnPath('echo "Unrecognized option: --frobnicate" >&2\nexit 2');
    try {
      const started = Date.now();
      await expect(launchMongo({ env: fake.env, log: quiet })).rejects.toThrow(
        /mongod exited during startup \(exit code 2\)[\s\S]*Unrecognized option: --frobnicate/,
      );
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      rmSync(fake.dir, { recursive: true, force: true });
    }
  });

  describe('when the owning process goes away without stop()', () => {
    let buildDir: string;
    beforeAll(() => {
      // The launcher as plain CommonJS, for a child process that must run it without Jest.
      buildDir = compileProject('tools/tsconfig.json', 'tools');
    });
    afterAll(() => rmSync(buildDir, { recursive: true, force: true }));

    /** Runs the launcher in a plain node child; resolves with the server it started and how the child ended. */
    function ownerProcess(then: 'exit' | NodeJS.Signals) {
      const script = [
        `const { launchMongo } = require(${JSON.stringify(join(buildDir, 'database', 'mongo-launcher.js'))});`,
        `launchMongo({ kinds: ['ferretdb'], allowBuild: false, preferPostgres: true, log: () => {} }).then((s) => {`,
        '  console.log(JSON.stringify({ pid: s.pid, dataDir: s.dataDir, backendPid: s.backendPid }));',
        // Stay alive until signalled, like a server would.
        then === 'exit' ? '});' : '  setInterval(() => {}, 1000); });',
      ].join('\n');
      const child = spawn(process.execPath, ['-e', script], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (then !== 'exit' && output.includes('\n')) child.kill(then);
      });
      return new Promise<{
        pid: number;
        dataDir: string;
        backendPid?: number;
        signal: NodeJS.Signals | null;
      }>((resolve, reject) => {
        child.once('error', reject);
        child.once('close', (_code, signal) => {
          try {
            resolve({
              ...(JSON.parse(output) as { pid: number; dataDir: string; backendPid?: number }),
              signal,
            });
          } catch {
            reject(new Error(`owner printed no server: ${output}`));
          }
        });
      });
    }

    it.each(['exit', 'SIGTERM', 'SIGINT'] as const)(
      'kills the server and removes its temp dir (%s)',
      async (how) => {
        if (binary === undefined) return;
        const { pid, dataDir, backendPid, signal } = await ownerProcess(how);
        try {
          expect(pid).toBeGreaterThan(0);
          // The owner still dies of the signal: we clean up without swallowing it.
          expect(signal).toBe(how === 'exit' ? null : how);
          await waitFor(() => !isPidAlive(pid), 5000);
          expect(isPidAlive(pid)).toBe(false);
          expect(existsSync(dataDir)).toBe(false);
          // On PostgreSQL the cluster behind it goes too.
          if (locatePostgres(process.env) !== undefined) {
            expect(backendPid).toBeGreaterThan(0);
            await waitFor(() => !isPidAlive(backendPid as number), 5000);
            expect(isPidAlive(backendPid as number)).toBe(false);
          }
        } finally {
          if (isPidAlive(pid)) process.kill(pid, 'SIGKILL');
          rmSync(dataDir, { recursive: true, force: true });
        }
      },
      60_000,
    );
  });
});

async function withClient<T>(
  uri: string,
  body: (db: import('mongodb').Db) => Promise<T>,
): Promise<T> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5000 });
  try {
    await client.connect();
    return await body(client.db('launcher_spec'));
  } finally {
    await client.close();
  }
}

function listen(server: Server | import('node:http').Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 50));
}

function hasGo(): boolean {
  return spawnSync('go', ['version']).status === 0;
}

function hasPackageJsonAbove(dir: string): boolean {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, 'package.json'))) return true;
    if (dirname(d) === d) return false;
  }
}
