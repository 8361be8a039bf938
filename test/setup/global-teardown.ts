import type { LaunchedMongo } from '../../tools/database/mongo-launcher';
import { assertNoLeftoverDatabases } from './leftover-databases';

export default async function globalTeardown(): Promise<void> {
  const server = (globalThis as { __TEST_DB__?: LaunchedMongo }).__TEST_DB__;
  if (!server) return;
  try {
    await assertNoLeftoverDatabases(server);
  } finally {
    await server.stop();
  }
}
