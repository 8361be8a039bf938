import { availableParallelism } from 'node:os';
import { assertDatabaseReachable } from '../src/bootstrap/database-preflight';
import { appConfig } from '../src/config/configuration';

describe('Production start-up checks (e2e)', () => {
  it('passes the database preflight against a running database', async () => {
    await expect(assertDatabaseReachable(process.env.MONGODB_URI!, 5000)).resolves.toBeUndefined();
  });

  it('runs one worker per CPU in production unless WEB_CONCURRENCY says otherwise', () => {
    const env = { ...process.env };
    try {
      process.env.NODE_ENV = 'production';
      process.env.MONGODB_URI ??= 'mongodb://127.0.0.1:27017';
      process.env.JWT_SECRET = 'x'.repeat(16) + 'a-long-enough-random-value-0123456789';
      process.env.BCRYPT_COST = '12';
      delete process.env.WEB_CONCURRENCY;
      expect(appConfig().webConcurrency).toBe(availableParallelism());
      process.env.WEB_CONCURRENCY = '3';
      expect(appConfig().webConcurrency).toBe(3);
      process.env.NODE_ENV = 'development';
      delete process.env.WEB_CONCURRENCY;
      expect(appConfig().webConcurrency).toBe(1);
    } finally {
      process.env = env;
    }
  });

  it('refuses TRUST_PROXY=true, which would let any client choose its address', () => {
    const env = { ...process.env };
    try {
      process.env.TRUST_PROXY = 'true';
      expect(() => appConfig()).toThrow(/TRUST_PROXY/);
    } finally {
      process.env = env;
    }
  });
});
