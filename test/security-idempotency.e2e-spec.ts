import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { getModelToken } from '@nestjs/mongoose';
import type { FastifyReply } from 'fastify';
import type { Model } from 'mongoose';
import type { AuthConfig, DatabaseConfig } from '../src/config/configuration';
import type { RequestContext } from '../src/auth/request-context';
import { ExpiringCollections } from '../src/database/expiring-collections.service';
import { IdempotencyService, type StoredResponse } from '../src/idempotency/idempotency.service';
import { IdempotencyRecord } from '../src/idempotency/schemas/idempotency-record.schema';
import { OperationHooks } from '../src/organizations/lifecycle/operation-hooks';
import { OrganizationsController } from '../src/organizations/organizations.controller';
import type { CreateOrganizationDto } from '../src/organizations/dto/create-organization.dto';
import { apiClient, expectProblem, type Body } from './utils/api';
import { createOrg, newOrgInput } from './utils/fixtures';
import { createTestApp, uniqueMasterDb, uniqueSuffix, type TestApp } from './utils/test-app';

/** What the old records kept: a plain SHA-256 of the canonical body, password included. */
const sha256OfBody = (body: Record<string, string>) =>
  createHash('sha256')
    .update(
      JSON.stringify(Object.fromEntries(Object.entries(body).sort(([a], [b]) => (a < b ? -1 : 1)))),
    )
    .digest('hex');

/** A promise the test settles when it likes: work that is still running. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const anonymousFrom = (ip: string): RequestContext => ({ actor: undefined, ip, requestId: 'test' });

describe('Idempotency keys (e2e)', () => {
  describe('records and scope (finding 6)', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp({ env: { TRUST_PROXY: '127.0.0.1' } });
    });
    afterAll(async () => {
      await t.close();
    });

    const create = (
      address: string,
      key: string,
      body: Body<CreateOrganizationDto>,
      token?: string,
    ) => {
      const api = apiClient(t);
      return (token === undefined ? api : api.as(token))
        .createOrg(body)
        .set('X-Forwarded-For', address)
        .set('Idempotency-Key', key);
    };

    it('keeps no plain hash of the body, the key or the address: HMACs under a server secret', async () => {
      const key = `key-${uniqueSuffix()}`;
      const input = newOrgInput('Mac');
      await create('203.0.113.10', key, input).expect(201);
      const records = await t.master.db!.collection('idempotency_keys').find({}).toArray();
      const stored = JSON.stringify(records);
      expect(stored).not.toContain(sha256OfBody(input));
      expect(stored).not.toContain(key);
      expect(stored).not.toContain('203.0.113.10');
      expect(stored).not.toContain(input.password);
      const bound = records.find((r) => typeof r.request_mac === 'string');
      expect(bound?.request_mac).toMatch(/^[0-9a-f]{64}$/);
    });

    it("never replays one client's answer to another client that sends the same key", async () => {
      const key = `shared-key-${uniqueSuffix()}`;
      const input = newOrgInput('Scope');
      const first = await create('203.0.113.11', key, input).expect(201);
      // Same key and body from another address: its own request (the name is taken by now), no replay.
      const copycat = await create('203.0.113.12', key, input);
      expectProblem(copycat, 409, 'ORG_NAME_TAKEN');
      expect(copycat.headers['idempotent-replayed']).toBeUndefined();
      expect(JSON.stringify(copycat.body)).not.toContain(first.body.id as string);
      // Same key, another body, another address: not "reused", just another request.
      await create('203.0.113.12', `${key}-x`, newOrgInput('Scope')).expect(201);
      await create('203.0.113.13', key, newOrgInput('Scope')).expect(201);
      // The first client still gets its own answer back.
      const again = await create('203.0.113.11', key, input).expect(201);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(again.body).toEqual(first.body);
    });

    it('scopes keys to the admin of the token, whatever the address', async () => {
      const [alice, bob] = [await createOrg(t, 'Alice'), await createOrg(t, 'Bob')];
      const key = `admin-key-${uniqueSuffix()}`;
      const input = newOrgInput('ByAdmin');
      const first = await create('203.0.113.20', key, input, alice.token).expect(201);
      const moved = await create('203.0.113.21', key, input, alice.token).expect(201);
      expect(moved.headers['idempotent-replayed']).toBe('true');
      expect(moved.body).toEqual(first.body);
      const other = await create('203.0.113.20', key, input, bob.token).expect(409);
      expect(other.headers['idempotent-replayed']).toBeUndefined();
    });
    // Last: a second app in this process takes over the process-global passport strategy.
    it('derives the MAC from the server secret: another JWT_SECRET, another MAC for the same request', async () => {
      const key = `key-${uniqueSuffix()}`;
      const input = newOrgInput('Secret');
      await create('203.0.113.14', key, input).expect(201);
      const macs = async () =>
        new Set(
          (await t.master.db!.collection('idempotency_keys').find({}).toArray())
            .map((r) => r.request_mac as string | undefined)
            .filter(Boolean),
        );
      const before = await macs();
      const other = await createTestApp({
        masterDbName: t.master.db!.databaseName,
        env: { TRUST_PROXY: '127.0.0.1', JWT_SECRET: randomBytes(32).toString('hex') },
      });
      try {
        // Another secret cannot even find the record: the request runs (and finds the name taken).
        const res = await apiClient(other)
          .createOrg(input)
          .set('X-Forwarded-For', '203.0.113.14')
          .set('Idempotency-Key', key)
          .expect(409);
        expect(res.headers['idempotent-replayed']).toBeUndefined();
        const added = [...(await macs())].filter((mac) => !before.has(mac));
        expect(added).toHaveLength(1);
      } finally {
        await other.close();
      }
    });
  });

  describe('a key whose holder died', () => {
    it('is free again once the lease has passed, and the retry creates the organization', async () => {
      const masterDbName = uniqueMasterDb();
      const env = {
        OPERATION_LEASE_MS: '1500',
        TENANT_WRITE_DRAIN_MS: '500',
        TRUST_PROXY: '127.0.0.1',
      };
      // The first process takes the key and stops for good in the middle of the create.
      const frozen: OperationHooks = {
        reached: (type, point) =>
          type === 'create' && point === 'recorded'
            ? new Promise<void>(() => undefined)
            : Promise.resolve(),
      };
      const dying = await createTestApp({ masterDbName, env, hooks: frozen });
      const key = `crash-key-${uniqueSuffix()}`;
      const input = newOrgInput('Crash');
      const dto: CreateOrganizationDto = { ...input };
      const reply = { header: () => reply } as unknown as FastifyReply;
      void dying.app
        .get(OrganizationsController)
        .create(anonymousFrom('203.0.113.30'), key, dto, reply);
      await sleep(300);
      // Its process ends: no more lease renewals, no more anything.
      await dying.close();

      const survivor = await createTestApp({ masterDbName, env });
      try {
        const retry = () =>
          apiClient(survivor)
            .createOrg(input)
            .set('X-Forwarded-For', '203.0.113.30')
            .set('Idempotency-Key', key);
        const seen: number[] = [];
        const deadline = Date.now() + 20_000;
        let created: Awaited<ReturnType<typeof retry>> | undefined;
        while (!created && Date.now() < deadline) {
          const res = await retry();
          seen.push(res.status);
          if (res.status === 201) created = res;
          else await sleep(250);
        }
        // Until the lease passes: in progress; then possibly the dead create's leftovers until repair.
        expect(seen.slice(0, -1).every((s) => s === 409)).toBe(true);
        expect(created?.status).toBe(201);
        expect(created?.headers['idempotent-replayed']).toBeUndefined();
        const replay = await retry().expect(201);
        expect(replay.headers['idempotent-replayed']).toBe('true');
        expect(replay.body.id).toBe(created?.body.id);
        expect(
          await survivor.master
            .db!.collection('organizations')
            .countDocuments({ name: input.organization_name }),
        ).toBe(1);
      } finally {
        await survivor.close();
      }
    });
  });

  describe('a holder that stalled past its lease', () => {
    let t: TestApp;
    let model: Model<IdempotencyRecord>;
    const LEASE_MS = 300;

    beforeAll(async () => {
      t = await createTestApp();
      model = t.app.get<Model<IdempotencyRecord>>(getModelToken(IdempotencyRecord.name));
    });
    afterAll(async () => {
      await t.close();
    });

    /** A service as one process has it; `paused` never renews its leases (a stopped process). */
    function processWithService(paused = false): IdempotencyService {
      const service = new IdempotencyService(
        model,
        { jwtSecret: process.env.JWT_SECRET } as AuthConfig,
        { operationLeaseMs: LEASE_MS } as DatabaseConfig,
        t.app.get(ExpiringCollections),
      );
      if (paused) {
        (service as unknown as { renew: () => Promise<void> }).renew = () => Promise.resolve();
      }
      return service;
    }

    const run = (service: IdempotencyService, key: string, work: () => Promise<object>) =>
      service.run('test.scope', anonymousFrom('203.0.113.40'), key, { n: 1 }, 201, work);

    it.each([
      ['after the new holder has finished', true],
      ['before the new holder has finished', false],
    ])(
      'never lets the stale holder store its outcome, finishing %s',
      async (_label, newHolderFirst) => {
        const key = `stall-${uniqueSuffix()}-${String(newHolderFirst)}`;
        const stalled = processWithService(true);
        const healthy = processWithService();
        const stale = deferred<object>();
        const fresh = deferred<object>();
        const [staleStarted, freshStarted] = [deferred<void>(), deferred<void>()];
        const staleRun = run(stalled, key, () => {
          staleStarted.resolve();
          return stale.promise;
        });
        await staleStarted.promise;
        await sleep(LEASE_MS * 2);
        // The new holder is running once its work has been called: it has taken the key over.
        const freshRun = run(healthy, key, () => {
          freshStarted.resolve();
          return fresh.promise;
        });
        await freshStarted.promise;

        let staleAnswer: StoredResponse;
        let freshAnswer: StoredResponse;
        if (newHolderFirst) {
          fresh.resolve({ by: 'new holder' });
          freshAnswer = await freshRun;
          stale.resolve({ by: 'stale holder' });
          staleAnswer = await staleRun;
        } else {
          stale.resolve({ by: 'stale holder' });
          staleAnswer = await staleRun;
          fresh.resolve({ by: 'new holder' });
          freshAnswer = await freshRun;
        }
        // Each answered its own client with its own outcome...
        expect(staleAnswer).toEqual({ status: 201, body: { by: 'stale holder' }, replayed: false });
        expect(freshAnswer).toEqual({ status: 201, body: { by: 'new holder' }, replayed: false });
        // ...and the key replays the new holder's, whichever finished first.
        const replay = await run(processWithService(), key, () => Promise.reject(new Error('ran')));
        expect(replay).toEqual({ status: 201, body: { by: 'new holder' }, replayed: true });
        stalled.onModuleDestroy();
        healthy.onModuleDestroy();
      },
    );

    it('keeps a key while its holder renews the lease, however long the work takes', async () => {
      const key = `renewed-${uniqueSuffix()}`;
      const holder = processWithService();
      const work = deferred<object>();
      const started = deferred<void>();
      const first = run(holder, key, () => {
        started.resolve();
        return work.promise;
      });
      await started.promise;
      await sleep(LEASE_MS * 4);
      const waiting = run(processWithService(), key, () => Promise.resolve({ by: 'second' }));
      await sleep(LEASE_MS * 2);
      work.resolve({ by: 'holder' });
      expect(await first).toMatchObject({ body: { by: 'holder' }, replayed: false });
      expect(await waiting).toEqual({ status: 201, body: { by: 'holder' }, replayed: true });
      holder.onModuleDestroy();
    });
  });
});
