import { randomBytes } from 'node:crypto';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { getConnectionToken } from '@nestjs/mongoose';
import { Test } from '@nestjs/testing';
import type { Connection } from 'mongoose';
import request from 'supertest';
import { AppModule } from '../../src/app.module';
import { configureApp, createFastifyAdapter } from '../../src/app.setup';
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

/** Boots the real application (same pipeline as main.ts) on the test database. */
export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  process.env.MASTER_DB_NAME = options.masterDbName ?? uniqueMasterDb();
  recordMaster(process.env.MASTER_DB_NAME);
  process.env.OPERATION_LEASE_MS = '30000';
  // Per-app overrides are undone on close so they cannot leak into the next app.
  const overrides = options.env ?? {};
  const previous = Object.fromEntries(Object.keys(overrides).map((k) => [k, process.env[k]]));
  Object.assign(process.env, overrides);
  const restoreEnv = () => {
    for (const [key, value] of Object.entries(previous)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };

  let builder = Test.createTestingModule({ imports: [AppModule] });
  if (options.hooks) builder = builder.overrideProvider(OperationHooks).useValue(options.hooks);
  let app: NestFastifyApplication | undefined;
  try {
    const moduleRef = await builder.compile();
    app = configureApp(
      moduleRef.createNestApplication<NestFastifyApplication>(createFastifyAdapter()),
    );
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  } catch (error) {
    // A start that is refused (a test of exactly that) leaves nothing behind.
    await app?.close().catch(() => undefined);
    restoreEnv();
    throw error;
  }
  const master = app.get<Connection>(getConnectionToken());
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      untrack();
      await app.close();
      restoreEnv();
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
