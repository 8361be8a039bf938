import { Logger } from '@nestjs/common';
import { loadConfig } from '../config/configuration';
import { launchMongo } from './launcher/mongo-launcher';

/**
 * Development convenience: with no MONGODB_URI outside production, start a
 * local MongoDB-compatible server (see launcher/) and point the service at
 * it. Production never gets here: its config validation requires the URI.
 * Reads the configuration on its own (not processConfig(), which must see the
 * address written here).
 */
export async function startEmbeddedDatabaseIfNeeded(): Promise<void> {
  const { app, database } = loadConfig();
  if (database.uri || app.isProduction) return;
  const logger = new Logger('EmbeddedDatabase');
  const server = await launchMongo({ persistent: true, log: (message) => logger.log(message) });
  logger.log(`No MONGODB_URI set: using ${server.kind} at ${server.uri}`);
  process.env.MONGODB_URI = server.uri;
}
