import cluster from 'node:cluster';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from '../app.module';
import { configureApp, createFastifyAdapter } from '../app.setup';
import { processConfig } from '../config/configuration';
import { createGracefulShutdown, onShutdownSignals } from './graceful-shutdown';

/**
 * Boots the Nest application and serves HTTP on HOST:PORT, in a cluster
 * worker or as the only process. Loaded lazily by main.ts so the cluster
 * primary never loads Nest at all.
 */
export async function runHttpServer(): Promise<void> {
  const config = processConfig().app;
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule,
    createFastifyAdapter(config),
    {
      bufferLogs: true,
    },
  );
  configureApp(app);

  const shutdown = createGracefulShutdown(app, {
    timeoutMs: config.shutdownTimeoutMs,
    logger: new Logger('Shutdown'),
  });
  let stopping = false;
  const stop = (reason: string) => {
    stopping = true;
    return shutdown(reason);
  };
  onShutdownSignals(stop);
  // A worker whose primary is gone can no longer receive connections.
  if (cluster.isWorker) process.on('disconnect', () => void stop('primary gone'));

  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    // Stopped while starting (a sibling worker refused its configuration, a
    // deploy): the start failed because the shutdown closed the database
    // client under it, and the shutdown under way ends the process.
    if (stopping) return;
    throw error;
  }
  new Logger('Bootstrap').log(`Listening on ${config.host}:${config.port}`);
}
