import { Agent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createGracefulShutdown } from '../src/bootstrap/graceful-shutdown';
import { apiClient } from './utils/api';
import { newOrgInput } from './utils/fixtures';
import { createTestApp, type TestApp } from './utils/test-app';

const quietLogger = { log: () => undefined, error: () => undefined };

/** Starts a POST whose body is held back until `finish()`: a request in flight for as long as we like. */
function slowRequest(port: number, path: string, body: object, agent: Agent) {
  const payload = Buffer.from(JSON.stringify(body));
  let req!: ClientRequest;
  const response = new Promise<{
    status: number;
    body: string;
    headers: IncomingMessage['headers'];
  }>((resolve, reject) => {
    req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': payload.length },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body: text, headers: res.headers }));
      },
    );
    req.on('error', reject);
  });
  req.write(payload.subarray(0, 10));
  return { response, finish: () => req.end(payload.subarray(10)) };
}

async function connectionRefused(port: number): Promise<boolean> {
  try {
    await fetch(`http://127.0.0.1:${port}/health/live`, { signal: AbortSignal.timeout(1000) });
    return false;
  } catch (error) {
    return (error as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED';
  }
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await sleep(50);
  }
  return false;
}

async function listen(t: TestApp): Promise<number> {
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  return (t.app.getHttpServer().address() as AddressInfo).port;
}

describe('Graceful shutdown (e2e)', () => {
  it('finishes a slow request in flight during SIGTERM, refuses new connections, closes the database and exits 0', async () => {
    const t = await createTestApp();
    const port = await listen(t);
    const input = newOrgInput('Drain');
    await apiClient(t).createOrg(input).expect(201);

    const agent = new Agent({ keepAlive: true });
    const login = slowRequest(
      port,
      '/admin/login',
      { email: input.email, password: input.password },
      agent,
    );
    await sleep(200); // the server has the request line and headers; the body is pending

    const exitCodes: number[] = [];
    const shutdown = createGracefulShutdown(t.app, {
      timeoutMs: 10_000,
      logger: quietLogger,
      exit: (code) => exitCodes.push(code),
    });
    const stopped = shutdown('SIGTERM');

    expect(await waitFor(() => connectionRefused(port), 3000)).toBe(true);
    expect(exitCodes).toEqual([]); // still draining
    expect(t.master.readyState).toBe(1); // the database stays open for the request in flight

    login.finish();
    const response = await login.response;
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body).access_token).toEqual(expect.any(String));

    // The keep-alive connection that carried it must not hold the shutdown open.
    const started = Date.now();
    expect(await stopped).toBe(0);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(exitCodes).toEqual([0]);
    expect(t.master.readyState).toBe(0); // disconnected
    agent.destroy();
  });

  it('cuts requests that outlive SHUTDOWN_TIMEOUT_MS and exits 1', async () => {
    const t = await createTestApp();
    const port = await listen(t);
    const agent = new Agent({ keepAlive: false });
    const stuck = slowRequest(port, '/admin/login', { email: 'a@b.test', password: 'x' }, agent);
    const outcome = stuck.response.then(
      () => 'answered',
      (error: NodeJS.ErrnoException) => error.code,
    );
    await sleep(200);

    const exitCodes: number[] = [];
    const started = Date.now();
    const code = await createGracefulShutdown(t.app, {
      timeoutMs: 500,
      logger: quietLogger,
      exit: (c) => exitCodes.push(c),
    })('SIGTERM');

    expect(code).toBe(1);
    expect(exitCodes).toEqual([1]);
    expect(Date.now() - started).toBeLessThan(2500);
    expect(await outcome).toBe('ECONNRESET');
  });
});
