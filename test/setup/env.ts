// Per-worker environment for e2e tests. The database URI comes from the
// global setup; everything else is pinned here so a developer's shell
// variables cannot change what the tests exercise.
process.env.NODE_ENV = 'test';
process.env.BCRYPT_COST = '4';
process.env.LOG_LEVEL = process.env.TEST_LOG_LEVEL ?? 'silent';
process.env.JWT_SECRET = 'e2e-only-secret-with-more-than-32-bytes-0123456789';
process.env.JWT_EXPIRES_IN = '30m';
delete process.env.CORS_ORIGINS;
// Every suite sends all its traffic from 127.0.0.1: limits stay on (their
// code runs in every test) but out of the way. test/security*.e2e-spec.ts
// sets tight ones to test them.
process.env.RATE_LIMIT_GLOBAL = '1000000/1m';
process.env.RATE_LIMIT_LOGIN = '1000000/1m';
process.env.RATE_LIMIT_CREATE = '1000000/1m';
process.env.LOGIN_LOCKOUT = '10/15m';
