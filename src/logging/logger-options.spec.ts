import { pino } from 'pino';
import { Writable } from 'node:stream';
import { loggerOptions } from './logger-options';

function capture(nodeEnv: 'development' | 'test' | 'production', logLevel = 'info') {
  const options = loggerOptions({ nodeEnv, logLevel });
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString());
      callback();
    },
  });
  return { options, lines, logger: () => pino({ ...options, transport: undefined }, sink) };
}

describe('loggerOptions', () => {
  it('pretty-prints only in development', () => {
    expect(capture('development').options.transport).toEqual(
      expect.objectContaining({ target: 'pino-pretty' }),
    );
    expect(capture('production').options.transport).toBeUndefined();
    expect(capture('test').options.transport).toBeUndefined();
  });

  it('writes JSON with level names and ISO timestamps outside development', () => {
    const { logger, lines } = capture('production');
    logger().warn({ route: '/x' }, 'hello');
    const line = JSON.parse(lines[0]) as Record<string, unknown>;
    expect(line).toEqual(expect.objectContaining({ level: 'warn', msg: 'hello', route: '/x' }));
    expect(line.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('honours LOG_LEVEL', () => {
    const { logger, lines } = capture('production', 'warn');
    const log = logger();
    log.info('dropped');
    log.error('kept');
    expect(lines.join('')).not.toContain('dropped');
    expect(lines.join('')).toContain('kept');
  });

  it('redacts credentials in objects logged by hand', () => {
    const { logger, lines } = capture('production');
    logger().info(
      {
        body: { email: 'a@b.test', password: 'hunter2-secret' },
        headers: { authorization: 'Bearer abc.def.ghi' },
        access_token: 'tok-123',
      },
      'oops',
    );
    const text = lines.join('');
    expect(text).not.toMatch(/hunter2-secret|abc\.def\.ghi|tok-123/);
    expect(text).toContain('a@b.test');
    expect(text).toContain('[redacted]');
  });
});
