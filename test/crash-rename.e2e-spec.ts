import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient, type Db } from 'mongodb';
import { slugify } from '../src/organizations/organization-name';
import { newOrgInput, PASSWORD } from './utils/fixtures';
import { buildService } from '../tools/lib/build';
import { startService, type RunningService } from '../tools/lib/service';
import { uniqueMasterDb } from './utils/test-app';

// CRASH_LOG_LEVEL=warn shows the services' own logs (repairs at start-up) while debugging this file.
const LEASE_MS = 1500;

/** "Thousands of documents across several collections", with an index that must survive the move. */
const SEED = { members: 2000, projects: 800, events: 1200 } as const;
const SEEDED_COLLECTIONS = ['_tenant_meta', ...Object.keys(SEED)].sort();

/**
 * The service, compiled from src/ as it is now, plus an entry point that
 * makes the operation hooks report a point on stdout and then wait forever,
 * so the test can SIGKILL the process exactly there. Production code is not
 * touched: the entry swaps the hooks on the running application.
 */
function buildCrashableService(): { buildDir: string; entry: string } {
  const buildDir = buildService();
  const dist = join(buildDir, 'dist');
  const entry = join(dist, 'crash-entry.js');
  writeFileSync(
    entry,
    `require('reflect-metadata');
const { NestFactory } = require('@nestjs/core');
const { AppModule } = require('./app.module');
const { configureApp, createFastifyAdapter } = require('./app.setup');
const { OperationHooks } = require('./organizations/lifecycle/operation-hooks');
const [type, point] = (process.env.CRASH_AT || ':').split(':');
(async () => {
  const app = await NestFactory.create(AppModule, createFastifyAdapter(), { logger: false });
  configureApp(app);
  // Armed once listening: the start-up repair of the previous crash passes the same points.
  let armed = false;
  app.get(OperationHooks).reached = (t, p) => {
    if (!armed || t !== type || p !== point) return Promise.resolve();
    process.stdout.write('REACHED ' + t + ':' + p + '\\n');
    return new Promise(() => undefined);
  };
  await app.listen({ port: Number(process.env.PORT), host: process.env.HOST });
  armed = true;
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
`,
  );
  return { buildDir, entry };
}

describe('Crash during a rename: SIGKILL of the real service process (e2e)', () => {
  let buildDir: string;
  let entry: string;
  let client: MongoClient;
  let masterDbName: string;
  let master: Db;
  const running = new Set<RunningService>();

  beforeAll(() => {
    ({ buildDir, entry } = buildCrashableService());
    client = new MongoClient(process.env.MONGODB_URI!);
    masterDbName = uniqueMasterDb();
    master = client.db(masterDbName);
  });

  afterAll(async () => {
    for (const service of running) service.kill('SIGKILL');
    const names = (await client.db().admin().listDatabases({ nameOnly: true })).databases.map(
      (d) => d.name,
    );
    for (const name of names.filter((n) => n === masterDbName || n.startsWith('org_crash_'))) {
      await client.db(name).dropDatabase();
    }
    await client.close();
    rmSync(buildDir, { recursive: true, force: true });
  });

  async function startCrashable(crashAt?: string): Promise<RunningService> {
    const service = await startService({
      entry,
      mongodbUri: process.env.MONGODB_URI!,
      env: {
        NODE_ENV: 'test',
        MASTER_DB_NAME: masterDbName,
        OPERATION_LEASE_MS: String(LEASE_MS),
        TENANT_WRITE_DRAIN_MS: '500',
        COPY_BATCH_SIZE: '100',
        LOG_LEVEL: process.env.CRASH_LOG_LEVEL ?? 'silent',
        CRASH_AT: crashAt ?? '',
      },
      onOutput: process.env.CRASH_LOG_LEVEL ? (chunk) => process.stderr.write(chunk) : undefined,
    });
    running.add(service);
    return service;
  }

  async function kill(service: RunningService): Promise<void> {
    service.kill('SIGKILL');
    await service.exited;
    running.delete(service);
  }

  const call = async (
    service: RunningService,
    method: string,
    path: string,
    body?: unknown,
    token?: string,
  ) => {
    const res = await fetch(`${service.url}${path}`, {
      method,
      headers: {
        ...(body ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    return {
      status: res.status,
      body: (await res.json().catch(() => null)) as Record<string, unknown>,
    };
  };

  async function seed(databaseName: string): Promise<void> {
    const db = client.db(databaseName);
    for (const [name, count] of Object.entries(SEED)) {
      await db.collection(name).insertMany(
        Array.from({ length: count }, (_, i) => ({
          n: i,
          key: `${name}-${i}`,
          payload: 'x'.repeat(64),
        })),
      );
    }
    await db.collection('members').createIndex({ key: 1 }, { unique: true, name: 'key_unique' });
  }

  /** Exactly one complete tenant database, the one the master record names, and no operation left. */
  async function expectOneCompleteDatabase(
    oldName: string,
    newName: string,
    email: string,
    service: RunningService,
  ) {
    const record = await master
      .collection('organizations')
      .findOne({ slug: { $in: [slugify(oldName), slugify(newName)] } });
    expect(record).not.toBeNull();
    expect(record!.pending).toBeNull();
    const live = record!.database_name as string;
    const other =
      live === `org_${slugify(oldName)}` ? `org_${slugify(newName)}` : `org_${slugify(oldName)}`;
    expect([`org_${slugify(oldName)}`, `org_${slugify(newName)}`]).toContain(live);
    expect(record!.slug).toBe(live.slice('org_'.length));

    const databases = (await client.db().admin().listDatabases({ nameOnly: true })).databases.map(
      (d) => d.name,
    );
    expect(databases).toContain(live);
    expect(databases).not.toContain(other);

    const db = client.db(live);
    const collections = (await db.listCollections({}, { nameOnly: true }).toArray())
      .map((c) => c.name)
      .sort();
    expect(collections).toEqual(expect.arrayContaining(SEEDED_COLLECTIONS));
    for (const [name, count] of Object.entries(SEED)) {
      expect(await db.collection(name).countDocuments({})).toBe(count);
    }
    const indexes = (await db.collection('members').listIndexes().toArray()).map((ix) => ix.name);
    expect(indexes).toContain('key_unique');
    const meta = await db.collection('_tenant_meta').findOne({});
    expect(String(meta!.organization_id)).toBe(String(record!._id));

    // Exactly one slug reservation, for the live name.
    const reservations = await master
      .collection('organization_slugs')
      .find({ organization_id: record!._id })
      .toArray();
    expect(reservations.map((r) => r._id)).toEqual([record!.slug]);

    // And the service agrees: the owner logs in and sees that database.
    const login = await call(service, 'POST', '/admin/login', { email, password: PASSWORD });
    expect(login.status).toBe(200);
    const view = await call(
      service,
      'GET',
      `/org/get?organization_name=${encodeURIComponent(record!.name as string)}`,
      undefined,
      login.body.access_token as string,
    );
    expect(view.status).toBe(200);
    expect(view.body.database_name).toBe(live);
    return live === `org_${slugify(newName)}` ? 'forward' : 'back';
  }

  /** Creates a seeded organization, starts its rename and SIGKILLs the service at `point`. */
  async function crashRenameAt(service: RunningService, point: string) {
    const input = {
      ...newOrgInput('Crash'),
      organization_name: `Crash ${point} ${Date.now() % 100000}`,
    };
    const created = await call(service, 'POST', '/org/create', input);
    expect(created.status).toBe(201);
    await seed(created.body.database_name as string);
    const login = await call(service, 'POST', '/admin/login', {
      email: input.email,
      password: PASSWORD,
    });
    const newName = `${input.organization_name} Next`;
    const rename = call(
      service,
      'PUT',
      '/org/update',
      { new_organization_name: newName },
      login.body.access_token as string,
    ).catch(() => ({ status: 0, body: null }));
    if (point === 'mid-copy') {
      // Observed, not hooked: killed while the copy is under way, between batches or inside one.
      const target = client.db(`org_${slugify(newName)}`);
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        const copied = await target
          .collection('members')
          .countDocuments({})
          .catch(() => 0);
        if (copied > 0 && copied < SEED.members) break;
        await sleep(10);
      }
    } else {
      expect((await service.waitForOutput(/REACHED (\S+)/))[1]).toBe(`rename:${point}`);
    }
    await kill(service);
    const answer = await rename;
    expect(answer.status).toBe(0); // the client never got an answer
    return { oldName: input.organization_name, newName, email: input.email };
  }

  // Chained: the process started after each kill repairs it at start-up, is
  // checked, and is itself killed at the next point.
  const points: Array<[string, 'back' | 'forward']> = [
    ['recorded', 'back'],
    ['slug_reserved', 'back'],
    ['mid-copy', 'back'],
    ['copied', 'back'],
    ['verified', 'back'],
    ['switched', 'forward'],
    ['source_dropped', 'forward'],
  ];

  it('leaves exactly one complete database, agreeing with the master record, after a kill at each step', async () => {
    let service = await startCrashable(`rename:${points[0][0]}`);
    for (let i = 0; i < points.length; i++) {
      const [point, expected] = points[i];
      if (process.env.CRASH_LOG_LEVEL) console.error('POINT', point);
      const crashed = await crashRenameAt(service, point);
      // Repair takes over an operation once its lease has run out.
      await sleep(LEASE_MS + 200);
      service = await startCrashable(points[i + 1] ? `rename:${points[i + 1][0]}` : undefined);
      const outcome = await expectOneCompleteDatabase(
        crashed.oldName,
        crashed.newName,
        crashed.email,
        service,
      );
      expect(`${point}: ${outcome}`).toBe(`${point}: ${expected}`);
    }
    await kill(service);
  }, 300_000);
});
