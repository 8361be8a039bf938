import type { LaunchedMongo } from '../../tools/database/mongo-launcher';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __TEST_DB__?: LaunchedMongo }).__TEST_DB__?.stop();
}
