import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { StartupRefusedError } from '../src/config/startup-refused.error';
import { apiClient, expectProblem } from './utils/api';
import { createOrg } from './utils/fixtures';
import { compileService, PROJECT } from './utils/compiled-service';
import { createTestApp, uniqueMasterDb, uniqueSuffix, type TestApp } from './utils/test-app';

const operator = (name: string) => ({
  SUPERADMIN_EMAIL: `${name}-${uniqueSuffix()}@example.test`,
  SUPERADMIN_PASSWORD: `operator passphrase ${uniqueSuffix()}`,
});

const loginAs = (t: TestApp, env: ReturnType<typeof operator>) =>
  apiClient(t).login(env.SUPERADMIN_EMAIL, env.SUPERADMIN_PASSWORD);

/**
 * Changing SUPERADMIN_EMAIL must retire the previous
 * operator, and an email that belongs to an organization admin must stop the
 * start with one clear line (no stack trace, no crash loop).
 */
describe('Operator rotation (e2e)', () => {
  const masterDbName = uniqueMasterDb();
  let cleanup: TestApp | undefined;

  afterAll(async () => {
    await cleanup?.close();
  });

  it('retires the previous super admin when SUPERADMIN_EMAIL changes: no login, its tokens refused', async () => {
    const first = operator('first');
    const before = await createTestApp({ masterDbName, env: first });
    const token = (await loginAs(before, first).expect(200)).body.access_token as string;
    await apiClient(before).as(token).listOrgs().expect(200);
    await before.close();

    const second = operator('second');
    const after = await createTestApp({ masterDbName, env: second });
    try {
      await loginAs(after, second).expect(200);
      expectProblem(await loginAs(after, first), 401, 'INVALID_CREDENTIALS');
      await apiClient(after).as(token).listOrgs().expect(401);
      const admins = after.master.db!.collection('admins');
      expect(await admins.countDocuments({ role: 'superadmin' })).toBe(1);
      const retired = await after.master
        .db!.collection('audit_events')
        .findOne({ action: 'admin.superadmin_retired' });
      expect(retired).toMatchObject({
        actor_email: first.SUPERADMIN_EMAIL,
        details: { replaced_by: second.SUPERADMIN_EMAIL },
      });
    } finally {
      await after.close();
    }
  });

  it('refuses to start, naming SUPERADMIN_EMAIL in one line, when the new email is an organization admin', async () => {
    const current = operator('current');
    const t = await createTestApp({ masterDbName, env: current });
    const org = await createOrg(t, 'Operator');
    await t.close();

    const start = createTestApp({
      masterDbName,
      env: { ...operator('ignored'), SUPERADMIN_EMAIL: org.email },
    });
    await expect(start).rejects.toBeInstanceOf(StartupRefusedError);
    const error = (await start.catch((e: unknown) => e)) as Error;
    expect(error.message).toMatch(/^SUPERADMIN_EMAIL \(.+\) belongs to an organization admin/);
    expect(error.message).not.toContain('\n');

    // Nothing changed: the organization admin is untouched and the operator still works.
    cleanup = await createTestApp({ masterDbName, env: current });
    await loginAs(cleanup, current).expect(200);
    const owner = await apiClient(cleanup).loginAs(org.email, org.password);
    expect(owner.role).toBe('owner');
  });

  describe('the real process (node dist/main.js, two workers)', () => {
    let buildDir: string;
    beforeAll(() => {
      buildDir = compileService();
    });
    afterAll(() => rmSync(buildDir, { recursive: true, force: true }));

    it('exits 1 at once with the one line, no stack trace and no replacement workers', async () => {
      const t = await createTestApp({ masterDbName });
      const org = await createOrg(t, 'Process');
      await t.close();

      const child = spawn(process.execPath, [join(buildDir, 'dist', 'main.js')], {
        env: {
          ...process.env,
          NODE_ENV: 'test',
          NODE_PATH: join(PROJECT, 'node_modules'),
          MASTER_DB_NAME: masterDbName,
          PORT: '0',
          HOST: '127.0.0.1',
          WEB_CONCURRENCY: '2',
          LOG_LEVEL: 'info',
          SUPERADMIN_EMAIL: org.email,
          SUPERADMIN_PASSWORD: 'operator passphrase 123',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const started = Date.now();
      const code = await new Promise<number | null>((done) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
        child.once('exit', (exitCode) => {
          clearTimeout(timer);
          done(exitCode);
        });
      });
      expect(code).toBe(1);
      expect(Date.now() - started).toBeLessThan(30_000);
      const lines = output.split('\n');
      const refusals = lines.filter((line) =>
        line.startsWith(`SUPERADMIN_EMAIL (${org.email}) belongs to an organization admin`),
      );
      // One line per worker that got that far: at most the two that were started, never a replacement.
      expect(refusals.length).toBeGreaterThanOrEqual(1);
      expect(refusals.length).toBeLessThanOrEqual(2);
      expect(output).not.toMatch(/^[ \t]+at /m);
      expect(output).not.toContain('Worker died unexpectedly');
      expect(output).toContain('refused to start because of the configuration');
    });
  });
});
