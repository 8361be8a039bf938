import 'reflect-metadata';
import cluster from 'node:cluster';
import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import { ClusterSupervisor, type SupervisedWorker } from './bootstrap/cluster-supervisor';
import { assertDatabaseReachable } from './bootstrap/database-preflight';
import { SHUTDOWN_SIGNALS } from './bootstrap/graceful-shutdown';
import { processConfig } from './config/configuration';
import { ConfigValidationError } from './config/env.validation';
import { EXIT_CONFIG, StartupRefusedError } from './config/startup-refused.error';
import { createProcessLogger } from './logging/process-logger';

type HttpServerModule = typeof import('./bootstrap/http-server');
const lazyRequire = createRequire(__filename);

/**
 * Process entry point (the Procfile's and the Dockerfile's command).
 *
 * With WEB_CONCURRENCY > 1 this process becomes a cluster primary that only
 * supervises: workers (this same file, re-run by node:cluster) share the port
 * and serve HTTP. With 1 it serves HTTP itself. Either way SIGTERM/SIGINT
 * drain in-flight requests and exit 0.
 */
async function main(): Promise<void> {
  if (cluster.isWorker) return serveHttp();

  // Until the server exists there is nothing to drain: a stop signal just ends the start.
  const abortStart = () => process.exit(0);
  for (const signal of SHUTDOWN_SIGNALS) process.once(signal, abortStart);
  // The environment and .env, validated once; workers inherit the environment and read the same .env.
  const { app: config, database: db } = processConfig();
  const logger = createProcessLogger(config, 'Bootstrap');
  exitOnUncaughtErrors(logger);
  // Production's config validation already requires it; elsewhere the embedded
  // development database is the tools' job (`npm start`), never this process's.
  if (!db.uri) {
    throw new StartupRefusedError(
      'MONGODB_URI is not set: point it at a MongoDB server, or run `npm start`, which starts an embedded development database and sets it',
    );
  }

  if (config.isProduction) {
    try {
      await assertDatabaseReachable(db.uri, db.startupTimeoutMs);
    } catch (error) {
      logger.fatal({ err: error }, (error as Error).message);
      process.exit(1);
    }
  }

  for (const signal of SHUTDOWN_SIGNALS) process.removeListener(signal, abortStart);
  if (config.webConcurrency <= 1) return serveHttp();

  const supervisor = new ClusterSupervisor({
    size: config.webConcurrency,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    fork: () => cluster.fork() as SupervisedWorker,
    logger: createProcessLogger(config, 'ClusterPrimary'),
    exit: (code) => process.exit(code),
  });
  for (const signal of SHUTDOWN_SIGNALS) process.on(signal, () => supervisor.shutdown(signal));
  supervisor.start();
}

async function serveHttp(): Promise<void> {
  // Required lazily so a cluster primary never loads Nest. Not `import()`: an
  // imported CommonJS module resolves its own requires apart from this one's,
  // which once left the request logging silently disconnected.
  const { runHttpServer } = lazyRequire('./bootstrap/http-server') as HttpServerModule;
  await runHttpServer();
}

function exitOnUncaughtErrors(logger: Logger): void {
  const die = (error: unknown) => {
    logger.fatal({ err: error }, 'Uncaught error; exiting');
    process.exit(1);
  };
  process.on('uncaughtException', die);
  process.on('unhandledRejection', die);
}

main().catch((error: unknown) => {
  // Configuration errors are the operator's to fix: print them plainly, and
  // tell a supervising primary that restarting this worker cannot help.
  if (error instanceof ConfigValidationError || error instanceof StartupRefusedError) {
    console.error(error.message);
    process.exit(cluster.isWorker ? EXIT_CONFIG : 1);
  }
  console.error(error);
  process.exit(1);
});
