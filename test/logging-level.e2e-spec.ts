import { captureLogs } from './utils/log-capture';
import { createTestApp, uniqueSuffix, type TestApp } from './utils/test-app';

describe('LOG_LEVEL (e2e)', () => {
  let t: TestApp;
  const logs = captureLogs();

  beforeAll(async () => {
    t = await createTestApp({ env: { LOG_LEVEL: 'warn' }, logSink: logs.sink });
  });

  afterAll(async () => {
    await t.close();
  });

  it('drops lines below LOG_LEVEL and keeps the rest', async () => {
    const ok = `ok-${uniqueSuffix()}`;
    const missing = `missing-${uniqueSuffix()}`;
    await t.http().get('/').set('X-Request-Id', ok).expect(200);
    await t.http().get('/nope').set('X-Request-Id', missing).expect(404);

    const output = logs.text();
    expect(output).not.toContain(ok);
    expect(output).toContain(missing);
    // Nest's start-up lines are info too: nothing of them either.
    expect(output).not.toContain('Nest application successfully started');
  });
});
