import { randomBytes } from 'node:crypto';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { getConnectionToken } from '@nestjs/mongoose';
import { Test } from '@nestjs/testing';
import type { Connection } from 'mongoose';
import passport from 'passport';
import request from 'supertest';
import { AppModule } from '../../src/app.module';
import { configureApp, createFastifyAdapter } from '../../src/app.setup';
import { JWT_STRATEGY } from '../../src/auth/auth.constants';
import { JwtStrategy } from '../../src/auth/jwt.strategy';
import { configProviders, loadConfig } from '../../src/config/configuration';
import { TENANT_DB_PREFIX } from '../../src/database/database.constants';
import { OperationHooks } from '../../src/organizations/lifecycle/operation-hooks';
import { recordMaster, recordSuffix, TEST_MASTER_PREFIX, trackOpenApp } from './test-databases';

export interface TestApp {
  app: NestFastifyApplication;
  http: () => ReturnType<typeof request>;
  master: Connection;
  close: () => Promise<void>;
}

export interface TestAppOptions {
  /** Master database; give the same name to a second app to "restart" the service. */
  masterDbName?: string;
  env?: Record<string, string>;
  hooks?: OperationHooks;
}

/**
 * Random hex for names. The databases whose names carry it are dropped when
 * the test file ends (test/setup/drop-test-databases.ts).
 */
export const uniqueSuffix = () => {
  const suffix = randomBytes(4).toString('hex');
  recordSuffix(suffix);
  return suffix;
};

/** A fresh master database name, so test files never see each other's data. */
export const uniqueMasterDb = () => `${TEST_MASTER_PREFIX}${uniqueSuffix()}`;

/**
 * Passport keeps one strategy per name per process, and each application
 * registers its own when it starts. Production runs one application per
 * process; a test file may hold several (a restart on the same master
 * database), so when one closes the name goes back to the newest one still
 * open, not to a strategy whose database connection is closed.
 */
const openApps: NestFastifyApplication[] = [];

function appClosed(app: NestFastifyApplication): void {
  openApps.splice(openApps.indexOf(app), 1);
  const newest = openApps.at(-1);
  if (newest) passport.use(JWT_STRATEGY, newest.get(JwtStrategy));
}

/** Boots the real application (same pipeline as main.ts) on the test database. */
export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  // This app's own configuration: the process's environment (test/setup/env.ts)
  // with the test's variables on top; process.env is left alone, and a
  // developer's .env cannot change what the tests exercise.
  const overrides = {
    MASTER_DB_NAME: options.masterDbName ?? uniqueMasterDb(),
    OPERATION_LEASE_MS: '30000',
    ...options.env,
  };
  recordMaster(overrides.MASTER_DB_NAME);
  const config = loadConfig({ envFile: false, overrides });
  let builder = Test.createTestingModule({ imports: [AppModule] });
  for (const { provide, useValue } of configProviders(config)) {
    builder = builder.overrideProvider(provide).useValue(useValue);
  }
  if (options.hooks) builder = builder.overrideProvider(OperationHooks).useValue(options.hooks);
  let app: NestFastifyApplication | undefined;
  try {
    const moduleRef = await builder.compile();
    app = configureApp(
      moduleRef.createNestApplication<NestFastifyApplication>(createFastifyAdapter(config.app)),
    );
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  } catch (error) {
    // A start that is refused (a test of exactly that) leaves nothing behind.
    await app?.close().catch(() => undefined);
    throw error;
  }
  const master = app.get<Connection>(getConnectionToken());
  openApps.push(app);
  // Once only: the file-end cleanup closes whatever a test left open.
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      untrack();
      await app.close();
      appClosed(app);
    })());
  const untrack = trackOpenApp(close);
  return { app, master, http: () => request(app.getHttpServer()), close };
}

/** Names of tenant databases that currently exist on the server. */
export async function tenantDatabases(master: Connection): Promise<string[]> {
  const admin = master.db!.admin();
  const { databases } = await admin.listDatabases({ nameOnly: true });
  return (databases as Array<{ name: string }>)
    .map((d) => d.name)
    .filter((name) => name.startsWith(TENANT_DB_PREFIX));
}
