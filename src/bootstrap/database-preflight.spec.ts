import {
  assertDatabaseReachable,
  DatabaseUnreachableError,
  describeMongoTarget,
} from './database-preflight';

describe('describeMongoTarget', () => {
  it.each([
    [
      'mongodb+srv://app:s3cret@cluster0.abc.mongodb.net/?retryWrites=true',
      'cluster0.abc.mongodb.net',
    ],
    ['mongodb://127.0.0.1:27017', '127.0.0.1:27017'],
    ['mongodb://u:p@h1:27017,h2:27017/db?replicaSet=rs0', 'h1:27017,h2:27017'],
    ['not a uri', '(unparseable MONGODB_URI)'],
  ])('%s -> %s', (uri, expected) => {
    expect(describeMongoTarget(uri)).toBe(expected);
  });
});

describe('assertDatabaseReachable', () => {
  it('fails within its timeout, naming the host and never the password', async () => {
    const started = Date.now();
    const attempt = assertDatabaseReachable('mongodb://app:pw-42@127.0.0.1:9', 500);
    await expect(attempt).rejects.toBeInstanceOf(DatabaseUnreachableError);
    await expect(attempt).rejects.toThrow(/127\.0\.0\.1:9 within 500 ms/);
    await expect(attempt).rejects.not.toThrow(/pw-42/);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
