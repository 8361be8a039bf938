/**
 * Duplicate key, as MongoDB and FerretDB report it. FerretDB omits keyValue,
 * and when an update (findAndModify) rather than an insert breaks a unique
 * index, FerretDB 1.24 answers code 1 with SQLite's own message instead of 11000.
 */
export function isDuplicateKeyError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  return (
    code === 11000 ||
    (code === 1 && typeof message === 'string' && message.includes('UNIQUE constraint failed'))
  );
}

const UNREACHABLE = new Set([
  'MongoServerSelectionError',
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoNotConnectedError',
  'MongoTopologyClosedError',
  'MongooseServerSelectionError',
]);

/** The driver could not reach the server (as opposed to the server refusing a command). */
export function isUnreachableError(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return typeof name === 'string' && UNREACHABLE.has(name);
}
