import type { LaunchedMongo } from '../../src/database/launcher/mongo-launcher';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __TEST_DB__?: LaunchedMongo }).__TEST_DB__?.stop();
}
