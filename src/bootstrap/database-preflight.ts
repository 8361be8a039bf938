import { MongoClient } from 'mongodb';

export class DatabaseUnreachableError extends Error {
  constructor(target: string, timeoutMs: number, cause: unknown) {
    const reason = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(
      `Cannot reach the database at ${target} within ${timeoutMs} ms (${reason}). ` +
        'Check MONGODB_URI, that the database is running, and that it accepts connections ' +
        "from this host (on Atlas: the project's IP access list or VPC peering).",
    );
    this.name = 'DatabaseUnreachableError';
  }
}

/**
 * The host part of a connection string without credentials or options, for
 * messages: `mongodb+srv://app:pw@cluster0.abc.mongodb.net/?x=y` becomes
 * `cluster0.abc.mongodb.net`.
 */
export function describeMongoTarget(uri: string): string {
  const match = /^mongodb(?:\+srv)?:\/\/(?:[^@/]*@)?([^/?]*)/.exec(uri);
  return match?.[1] || '(unparseable MONGODB_URI)';
}

/**
 * Fails start-up fast and clearly when the database cannot be reached, instead
 * of letting every worker retry for a minute and die with a driver stack
 * trace. One ping within `timeoutMs`, then the client is closed again.
 */
export async function assertDatabaseReachable(uri: string, timeoutMs: number): Promise<void> {
  const client = new MongoClient(uri, {
    appName: 'org-management-service:preflight',
    serverSelectionTimeoutMS: timeoutMs,
    connectTimeoutMS: timeoutMs,
  });
  try {
    await client.db('admin').command({ ping: 1 });
  } catch (error) {
    throw new DatabaseUnreachableError(describeMongoTarget(uri), timeoutMs, error);
  } finally {
    await client.close().catch(() => undefined);
  }
}
