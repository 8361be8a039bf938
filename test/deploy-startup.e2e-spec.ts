import { availableParallelism } from 'node:os';
import { assertDatabaseReachable } from '../src/bootstrap/database-preflight';
import { loadConfig } from '../src/config/configuration';

describe('Production start-up checks (e2e)', () => {
  it('passes the database preflight against a running database', async () => {
    await expect(assertDatabaseReachable(process.env.MONGODB_URI!, 5000)).resolves.toBeUndefined();
  });

  it('runs one worker per CPU in production unless WEB_CONCURRENCY says otherwise', () => {
    const production = {
      NODE_ENV: 'production',
      MONGODB_URI: 'mongodb://127.0.0.1:27017',
      JWT_SECRET: 'x'.repeat(16) + 'a-long-enough-random-value-0123456789',
    };
    const workers = (env: Record<string, string>) =>
      loadConfig({ env, envFile: false }).app.webConcurrency;
    expect(workers(production)).toBe(availableParallelism());
    expect(workers({ ...production, WEB_CONCURRENCY: '3' })).toBe(3);
    expect(workers({ NODE_ENV: 'development' })).toBe(1);
  });

  it('refuses TRUST_PROXY=true, which would let any client choose its address', () => {
    expect(() => loadConfig({ overrides: { TRUST_PROXY: 'true' } })).toThrow(/TRUST_PROXY/);
  });
});
