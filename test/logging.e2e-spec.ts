import { Writable } from 'node:stream';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { AppModule } from '../src/app.module';
import { configureApp, createFastifyAdapter } from '../src/app.setup';
import { LOG_DESTINATION } from '../src/logging/logging.constants';
import { apiClient } from './utils/api';
import { bearer, createOrg, PASSWORD } from './utils/fixtures';
import { uniqueMasterDb, uniqueSuffix } from './utils/test-app';

type LogLine = Record<string, unknown>;

/**
 * The real application with its log destination swapped for a buffer, so the
 * lines it writes can be read back. One app per file: nestjs-pino keeps one
 * root logger per process (per test file under Jest).
 */
async function createLoggedApp(env: Record<string, string>) {
  process.env.MASTER_DB_NAME = uniqueMasterDb();
  Object.assign(process.env, env);
  const raw: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      raw.push(chunk.toString());
      callback();
    },
  });
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] })
    .overrideProvider(LOG_DESTINATION)
    .useValue(sink)
    .compile();
  const app = configureApp(
    moduleRef.createNestApplication<NestFastifyApplication>(createFastifyAdapter()),
  );
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  const text = () => raw.join('');
  const lines = (): LogLine[] =>
    text()
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as LogLine);
  return { app, text, lines, http: () => request(app.getHttpServer()) };
}

describe('Structured logs (e2e)', () => {
  let t: Awaited<ReturnType<typeof createLoggedApp>>;

  beforeAll(async () => {
    // trace: the most the application can ever write, for the secrets check.
    t = await createLoggedApp({ LOG_LEVEL: 'trace', TRUST_PROXY: '1' });
  });

  afterAll(async () => {
    await t.app.close();
  });

  const requestLines = (requestId: string) =>
    t.lines().filter((l) => l.request_id === requestId && 'status' in l);

  it('writes one JSON line per request with method, route, status, duration, request id and client address', async () => {
    const org = await createOrg(t, 'Logged');
    const requestId = `log-${uniqueSuffix()}`;
    await org.owner
      .getOrg(org.name)
      .set('X-Request-Id', requestId)
      .set('X-Forwarded-For', '198.51.100.7')
      .expect(200);

    const lines = requestLines(requestId);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toEqual(
      expect.objectContaining({
        level: 'info',
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        method: 'GET',
        route: '/org/get',
        path: '/org/get',
        status: 200,
        duration_ms: expect.any(Number),
        request_id: requestId,
        client_ip: '198.51.100.7',
      }),
    );
  });

  it('takes the client address from the hop NGINX appended, not from what the client sent', async () => {
    const requestId = `spoof-${uniqueSuffix()}`;
    await t
      .http()
      .get('/')
      .set('X-Request-Id', requestId)
      .set('X-Forwarded-For', '6.6.6.6, 198.51.100.8')
      .expect(200);
    expect(requestLines(requestId)[0]?.client_ip).toBe('198.51.100.8');
  });

  it('logs client errors as warnings, unknown routes included, and health checks at debug', async () => {
    const missing = `missing-${uniqueSuffix()}`;
    await t.http().get('/no/such/route').set('X-Request-Id', missing).expect(404);
    expect(requestLines(missing)).toEqual([
      expect.objectContaining({ level: 'warn', status: 404, route: null, path: '/no/such/route' }),
    ]);

    const health = `health-${uniqueSuffix()}`;
    await t.http().get('/health/live').set('X-Request-Id', health).expect(200);
    expect(requestLines(health)).toEqual([
      expect.objectContaining({ level: 'debug', route: '/health/live' }),
    ]);
  });

  it('never writes passwords, tokens or the signing secret, even at trace level', async () => {
    const org = await createOrg(t, 'Secrets');
    const api = apiClient(t);
    await org.owner.getOrg(org.name).expect(200);
    await api.login(org.email, 'a wrong password here').expect(401);
    await api
      .createOrg({ organization_name: '', email: 'not-an-email', password: 'x' })
      .expect(400);
    await t
      .http()
      .get('/org/get?access_token=query-token-123')
      .set(bearer('forged.jwt.token'))
      .expect(401);

    const output = t.text();
    // The check below is only meaningful if those requests were logged at all.
    expect(t.lines().filter((l) => l.route === '/admin/login').length).toBeGreaterThanOrEqual(2);
    for (const secret of [
      PASSWORD,
      'a wrong password here',
      org.token,
      org.token.split('.')[2],
      'forged.jwt.token',
      'query-token-123',
      process.env.JWT_SECRET!,
    ]) {
      expect(output).not.toContain(secret);
    }
    expect(output).not.toMatch(/bearer /i);
  });
});
