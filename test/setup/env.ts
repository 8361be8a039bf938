// Per-worker environment for e2e tests. The database URI comes from the
// global setup; everything else is pinned here so a developer's shell
// variables cannot change what the tests exercise.
process.env.NODE_ENV = 'test';
process.env.BCRYPT_COST = '4';
process.env.LOG_LEVEL = process.env.TEST_LOG_LEVEL ?? 'silent';
process.env.JWT_SECRET = 'e2e-only-secret-with-more-than-32-bytes-0123456789';
process.env.JWT_EXPIRES_IN = '30m';
process.env.TENANT_WRITE_DRAIN_MS = '50';
delete process.env.CORS_ORIGINS;
