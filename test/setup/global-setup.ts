import { launchMongo } from '../../tools/database/mongo-launcher';

/**
 * One real MongoDB wire-protocol server for the whole run (MONGODB_URI, a
 * mongod, or FerretDB, picked by the same launcher `npm start` uses). Test
 * files isolate themselves with their own master database name.
 */
export default async function globalSetup(): Promise<void> {
  const server = await launchMongo({
    persistent: false,
    log: (m: string) => console.log(`[db] ${m}`),
  });
  process.env.MONGODB_URI = server.uri;
  (globalThis as { __TEST_DB__?: typeof server }).__TEST_DB__ = server;
}
