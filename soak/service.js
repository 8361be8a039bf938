// Starts the built service the way production runs it (node dist/main.js,
// NODE_ENV=production) on a loopback port, against a MongoDB-compatible
// server from the project's own launcher. Shared by the soak and the fuzzer.
'use strict';

const { spawn } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { readFileSync } = require('node:fs');
const { createServer } = require('node:net');
const { join, resolve } = require('node:path');
const { setTimeout: sleep } = require('node:timers/promises');

const PROJECT = resolve(__dirname, '..');

function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

/** Resident set size in bytes of a process (Linux /proc), or undefined. */
function rssOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return kb ? Number(kb[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Pids of a process's children (the cluster workers of a primary). */
function childrenOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * @param {{ distDir?: string, env?: Record<string, string>, log?: (line: string) => void }} options
 */
async function startService(options = {}) {
  const distDir = resolve(options.distDir ?? join(PROJECT, 'dist'));
  const log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
  const { launchMongo } = require(join(PROJECT, 'dist-tools', 'database', 'mongo-launcher.js'));
  const db = await launchMongo({ persistent: false, projectRoot: PROJECT, log });
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [join(distDir, 'main.js')], {
    cwd: PROJECT,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      MONGODB_URI: db.uri,
      MASTER_DB_NAME: `run_${randomBytes(4).toString('hex')}`,
      // Hex cannot spell a placeholder word, which production refuses.
      JWT_SECRET: randomBytes(32).toString('hex'),
      PORT: String(port),
      HOST: '127.0.0.1',
      BCRYPT_COST: '10',
      LOG_LEVEL: 'warn',
      CORS_ORIGINS: '',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = [];
  const keep = (chunk) => {
    output.push(chunk.toString());
    if (output.length > 2000) output.splice(0, output.length - 2000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((done) =>
    child.once('exit', (code, signal) => done({ code, signal })),
  );

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const stopped = await Promise.race([exited, sleep(20_000).then(() => null)]);
      if (!stopped) child.kill('SIGKILL');
      await exited;
    }
    await db.stop();
  };

  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) {
      await db.stop();
      throw new Error(
        `The service exited (${child.exitCode}) before it was ready:\n${output.join('')}`,
      );
    }
    try {
      const res = await fetch(`${base}/health/ready`, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`The service was not ready within 90 s:\n${output.join('')}`);
    }
    await sleep(250);
  }

  return {
    base,
    db,
    pid: child.pid,
    /** RSS of the serving processes: the workers of a cluster primary, else the process itself. */
    rss: () => {
      const workers = childrenOf(child.pid);
      const pids = workers.length > 0 ? workers : [child.pid];
      return pids.map((pid) => ({ pid, rss: rssOf(pid) })).filter((p) => p.rss !== undefined);
    },
    output: () => output.join(''),
    stop,
  };
}

module.exports = { startService, PROJECT };
