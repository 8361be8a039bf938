import type { IncomingMessage, ServerResponse } from 'node:http';
import { Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { appConfig, type AppConfig } from '../config/configuration';

/**
 * Structured JSON logs through pino: one line per request, the request id on
 * every line, and credentials redacted at the serializer so no code path can
 * log them by accident.
 */
@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [appConfig.KEY],
      useFactory: (app: AppConfig) => ({
        pinoHttp: {
          level: app.logLevel,
          // The id Fastify assigned (see request-id.ts), so logs and error bodies agree.
          genReqId: (req: IncomingMessage) => (req as IncomingMessage & { id: string }).id,
          customProps: () => ({ context: 'HTTP' }),
          serializers: {
            req: (req: { id: string; method: string; url: string; raw?: IncomingMessage }) => ({
              id: req.id,
              method: req.method,
              url: req.url,
            }),
            res: (res: ServerResponse | { statusCode: number }) => ({
              status_code: res.statusCode,
            }),
          },
          redact: {
            paths: [
              'req.headers.authorization',
              'req.headers.cookie',
              '*.password',
              '*.current_password',
              '*.access_token',
            ],
            censor: '[redacted]',
          },
          customSuccessMessage: (req: IncomingMessage, res: ServerResponse) =>
            `${req.method} ${req.url} ${res.statusCode}`,
          customErrorMessage: (req: IncomingMessage, res: ServerResponse) =>
            `${req.method} ${req.url} ${res.statusCode}`,
        },
      }),
    }),
  ],
})
export class LoggingModule {}
