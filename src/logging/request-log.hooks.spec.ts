import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyInstance } from 'fastify';
import { AppLogger } from './app-logger.service';
import { RequestLogHooks } from './request-log.hooks';
import { ServiceLoggers } from './service-loggers';

type Line = Record<string, unknown>;

describe('RequestLogHooks', () => {
  let fastify: FastifyInstance;
  let lines: Line[];
  let base: string;

  beforeEach(async () => {
    lines = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        for (const line of chunk.toString().split('\n').filter(Boolean))
          lines.push(JSON.parse(line) as Line);
        callback();
      },
    });
    const loggers = new ServiceLoggers({ logLevel: 'debug', nodeEnv: 'test' }, sink);
    const appLogger = new AppLogger(loggers);
    fastify = Fastify({ genReqId: () => `req-${lines.length}-${Math.random()}` });
    new RequestLogHooks(loggers).register(fastify);
    fastify.get('/logs', async () => {
      await sleep(1);
      appLogger.warn({ headers: { authorization: 'Bearer secret' } }, 'handled', 'Spec');
      return { ok: true };
    });
    fastify.get('/slow', async () => {
      await sleep(300);
      return { ok: true };
    });
    fastify.get('/health/live', () => ({ ok: true }));
    await fastify.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(fastify.server.address() as AddressInfo).port}`;
  });

  afterEach(() => fastify.close());

  const requestLines = () => lines.filter((l) => 'status' in l);

  it('stamps lines logged while handling a request with its id, redacted, and writes the request line', async () => {
    await fetch(`${base}/logs?token=abc`);
    const handled = lines.find((l) => l.msg === 'handled');
    const [line] = requestLines();
    expect(handled).toMatchObject({ level: 'warn', context: 'Spec', request_id: line.request_id });
    expect(JSON.stringify(handled)).not.toContain('secret');
    expect(line).toMatchObject({
      level: 'info',
      method: 'GET',
      route: '/logs',
      path: '/logs',
      status: 200,
      client_ip: '127.0.0.1',
      msg: 'GET /logs 200',
    });
    expect(line).not.toHaveProperty('aborted');
  });

  it('logs health checks at debug and unknown routes as warnings', async () => {
    await fetch(`${base}/health/live`);
    await fetch(`${base}/nowhere`);
    expect(requestLines()).toEqual([
      expect.objectContaining({ level: 'debug', route: '/health/live' }),
      expect.objectContaining({ level: 'warn', route: null, status: 404 }),
    ]);
  });

  it('still logs a request whose client went away before the answer', async () => {
    const client = httpRequest(`${base}/slow`);
    client.on('error', () => undefined);
    client.end();
    await sleep(50);
    client.destroy();
    for (let i = 0; i < 50 && requestLines().length === 0; i++) await sleep(20);
    expect(requestLines()).toEqual([
      expect.objectContaining({ route: '/slow', aborted: true, request_id: expect.any(String) }),
    ]);
  });
});
