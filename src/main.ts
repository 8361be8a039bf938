import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from './app.module';
import { configureApp, createFastifyAdapter } from './app.setup';
import { appConfig } from './config/configuration';
import { ConfigValidationError } from './config/env.validation';
import { startEmbeddedDatabaseIfNeeded } from './database/embedded-database';

async function bootstrap(): Promise<void> {
  await startEmbeddedDatabaseIfNeeded();
  const app = await NestFactory.create<NestFastifyApplication>(AppModule, createFastifyAdapter(), {
    bufferLogs: true,
  });
  configureApp(app);
  await app.listen({ port: appConfig().port, host: '0.0.0.0' });
}

bootstrap().catch((error: unknown) => {
  // Configuration errors are the operator's to fix: print them plainly.
  if (error instanceof ConfigValidationError) console.error(error.message);
  else console.error(error);
  process.exit(1);
});
