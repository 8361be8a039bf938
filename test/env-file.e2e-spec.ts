import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { compileService, PROJECT } from './utils/compiled-service';
import { uniqueMasterDb } from './utils/test-app';

/** A port nothing listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * `node dist/main.js` in a folder holding only a `.env`, with an environment
 * of nothing but PATH, NODE_PATH and what `env` adds: every other setting can
 * only come from the file.
 */
function startService(buildDir: string, cwd: string, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [join(buildDir, 'dist', 'main.js')], {
    cwd,
    env: { PATH: process.env.PATH, NODE_PATH: join(PROJECT, 'node_modules'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once('exit', done));
  const killer = setTimeout(() => child.kill('SIGKILL'), 45_000);
  void exited.then(() => clearTimeout(killer));
  return { child, exited, output: () => output };
}

async function answers(url: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

describe('Settings from .env in the real process (e2e)', () => {
  let buildDir: string;
  let cwd: string;

  beforeAll(() => {
    buildDir = compileService();
  });
  beforeEach(() => {
    cwd = mkdtempSync(join(tmpdir(), 'env-file-'));
  });
  afterEach(() => rmSync(cwd, { recursive: true, force: true }));
  afterAll(() => rmSync(buildDir, { recursive: true, force: true }));

  it('forks WEB_CONCURRENCY workers that listen on the PORT and HOST of .env', async () => {
    const port = await freePort();
    const masterDbName = uniqueMasterDb();
    writeFileSync(
      join(cwd, '.env'),
      [
        'NODE_ENV=test',
        `PORT=${port}`,
        'HOST=127.0.0.1',
        'WEB_CONCURRENCY=2',
        'LOG_LEVEL=info',
        'BCRYPT_COST=4',
        `MASTER_DB_NAME=${masterDbName}`,
      ].join('\n'),
    );
    const service = startService(buildDir, cwd, { MONGODB_URI: process.env.MONGODB_URI! });
    try {
      expect(await answers(`http://127.0.0.1:${port}/health/live`, 30_000)).toBe(true);
      expect(service.output()).toContain('Starting 2 worker processes');
    } finally {
      service.child.kill('SIGTERM');
      expect(await service.exited).toBe(0);
      const client = await MongoClient.connect(process.env.MONGODB_URI!);
      await client.db(masterDbName).dropDatabase();
      await client.close();
    }
  });

  it('runs the production database preflight when .env says NODE_ENV=production', async () => {
    const unreachable = await freePort();
    writeFileSync(
      join(cwd, '.env'),
      [
        'NODE_ENV=production',
        `PORT=${await freePort()}`,
        'WEB_CONCURRENCY=1',
        'DB_STARTUP_TIMEOUT_MS=500',
        `JWT_SECRET=${randomBytes(48).toString('hex')}`,
      ].join('\n'),
    );
    const service = startService(buildDir, cwd, {
      MONGODB_URI: `mongodb://127.0.0.1:${unreachable}/?directConnection=true`,
    });
    const started = Date.now();
    expect(await service.exited).toBe(1);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(service.output()).toContain(`Cannot reach the database at 127.0.0.1:${unreachable}`);
  });
});
