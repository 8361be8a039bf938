import { Logger } from '@nestjs/common';
import { appConfig, databaseConfig } from '../config/configuration';
import { launchMongo } from './launcher/mongo-launcher';

/**
 * Development convenience: with no MONGODB_URI outside production, start a
 * local MongoDB-compatible server (see launcher/) and point the service at
 * it. Production never gets here: its config validation requires the URI.
 */
export async function startEmbeddedDatabaseIfNeeded(): Promise<void> {
  if (databaseConfig().uri || appConfig().isProduction) return;
  const logger = new Logger('EmbeddedDatabase');
  const server = await launchMongo({ persistent: true, log: (message) => logger.log(message) });
  logger.log(`No MONGODB_URI set: using ${server.kind} at ${server.uri}`);
  process.env.MONGODB_URI = server.uri;
}
