import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { buildService } from '../tools/lib/build';
import { freePort, startService } from '../tools/lib/service';
import { uniqueMasterDb } from './utils/test-app';

/**
 * `node dist/main.js` in a folder holding only a `.env`, with an environment
 * of nothing but PATH and what `env` adds: every other setting, PORT and HOST
 * too, can only come from the file.
 */
function startFromEnvFile(
  buildDir: string,
  cwd: string,
  port: number,
  env: Record<string, string>,
  readyPath: string | false,
) {
  return startService({
    entry: join(buildDir, 'dist', 'main.js'),
    cwd,
    baseEnv: { PATH: process.env.PATH },
    env,
    port,
    passAddress: false,
    readyPath,
    readyTimeoutMs: 30_000,
  });
}

describe('Settings from .env in the real process (e2e)', () => {
  let buildDir: string;
  let cwd: string;

  beforeAll(() => {
    buildDir = buildService();
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
    const service = await startFromEnvFile(
      buildDir,
      cwd,
      port,
      { MONGODB_URI: process.env.MONGODB_URI! },
      '/health/live',
    );
    try {
      expect(service.output()).toContain('Starting 2 worker processes');
    } finally {
      expect((await service.stop()).code).toBe(0);
      const client = await MongoClient.connect(process.env.MONGODB_URI!);
      await client.db(masterDbName).dropDatabase();
      await client.close();
    }
  });

  it('runs the production database preflight when .env says NODE_ENV=production', async () => {
    const unreachable = await freePort();
    const port = await freePort();
    writeFileSync(
      join(cwd, '.env'),
      [
        'NODE_ENV=production',
        `PORT=${port}`,
        'WEB_CONCURRENCY=1',
        'DB_STARTUP_TIMEOUT_MS=500',
        `JWT_SECRET=${randomBytes(48).toString('hex')}`,
      ].join('\n'),
    );
    const started = Date.now();
    const service = await startFromEnvFile(
      buildDir,
      cwd,
      port,
      { MONGODB_URI: `mongodb://127.0.0.1:${unreachable}/?directConnection=true` },
      false,
    );
    const killer = setTimeout(() => service.kill('SIGKILL'), 45_000);
    try {
      expect((await service.exited).code).toBe(1);
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(service.output()).toContain(`Cannot reach the database at 127.0.0.1:${unreachable}`);
    } finally {
      clearTimeout(killer);
    }
  });
});
