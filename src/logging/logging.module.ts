import { Global, Module } from '@nestjs/common';
import type { DestinationStream } from 'pino';
import { appConfig, type AppConfig } from '../config/configuration';
import { AppLogger } from './app-logger.service';
import { LOG_DESTINATION } from './logging.constants';
import { RequestLogHooks } from './request-log.hooks';
import { ServiceLoggers } from './service-loggers';

/**
 * Structured JSON logs through pino: Nest's logger (AppLogger), one line per
 * request from Fastify hooks (RequestLogHooks, registered by configureApp),
 * the request id on every line logged while handling a request, and
 * credentials redacted in anything logged by hand.
 */
@Global()
@Module({
  providers: [
    { provide: LOG_DESTINATION, useValue: null },
    {
      provide: ServiceLoggers,
      inject: [appConfig.KEY, LOG_DESTINATION],
      useFactory: (app: AppConfig, destination: DestinationStream | null) =>
        new ServiceLoggers(app, destination),
    },
    AppLogger,
    RequestLogHooks,
  ],
  exports: [AppLogger, RequestLogHooks],
})
export class LoggingModule {}
