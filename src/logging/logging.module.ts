import type { IncomingMessage, ServerResponse } from 'node:http';
import { Module, RequestMethod } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import type { Options } from 'pino-http';
import { appConfig, type AppConfig } from '../config/configuration';
import { loggerOptions } from './logger-options';
import { LOG_DESTINATION } from './logging.constants';
import { requestLogFields, requestLogLevel } from './request-log';

const DURATION_KEY = 'duration_ms';

export function pinoHttpOptions(app: AppConfig): Options {
  return {
    ...loggerOptions(app),
    // The id Fastify assigned (see request-id.ts), so logs and error bodies agree.
    genReqId: (req: IncomingMessage) => (req as IncomingMessage & { id: string }).id,
    // Lines logged while handling a request carry only its id, not the whole request.
    quietReqLogger: true,
    quietResLogger: true,
    customAttributeKeys: { reqId: 'request_id', responseTime: DURATION_KEY },
    customLogLevel: requestLogLevel,
    customSuccessObject: (req: IncomingMessage, res: ServerResponse, val: Record<string, number>) =>
      requestLogFields(req, res, val[DURATION_KEY]),
    // The cause of a 5xx is logged once, with its stack, by the problem-details filter.
    customErrorObject: (
      req: IncomingMessage,
      res: ServerResponse,
      _error: Error,
      val: Record<string, number>,
    ) => requestLogFields(req, res, val[DURATION_KEY]),
    customSuccessMessage: (req: IncomingMessage, res: ServerResponse) =>
      `${req.method} ${(req.url ?? '/').split('?')[0]} ${res.statusCode}`,
    customErrorMessage: (req: IncomingMessage, res: ServerResponse) =>
      `${req.method} ${(req.url ?? '/').split('?')[0]} ${res.statusCode}`,
  };
}

/**
 * Structured JSON logs through pino: one line per request (method, route,
 * status, duration, request id, client address), the request id on every line
 * logged while handling it, and credentials redacted. See request-log.ts.
 */
@Module({
  imports: [
    LoggerModule.forRootAsync({
      providers: [{ provide: LOG_DESTINATION, useValue: null }],
      inject: [appConfig.KEY, LOG_DESTINATION],
      useFactory: (app: AppConfig, destination: DestinationStream | null) => {
        const options = pinoHttpOptions(app);
        if (destination) delete options.transport;
        return {
          pinoHttp: destination ? [options, destination] : options,
          // nestjs-pino's default route pattern only reaches `/` with this Nest and
          // Fastify: every other request went unlogged. This one matches all paths,
          // 404s included.
          forRoutes: [{ path: '/{*splat}', method: RequestMethod.ALL }],
        };
      },
    }),
  ],
})
export class LoggingModule {}
