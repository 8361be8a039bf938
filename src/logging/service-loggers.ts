import { pino, type DestinationStream, type Logger } from 'pino';
import type { AppConfig } from '../config/configuration';
import { loggerOptions } from './logger-options';

/**
 * The two pino loggers of the application, writing to one stream (stdout,
 * pino-pretty's worker in development, or a test's buffer):
 *
 * - `app`: everything logged by hand (Nest's Logger), with credentials redacted;
 * - `requests`: the fixed-field line per request (request-log.ts), which has
 *   nothing to redact, so it skips the redaction pass on the hottest log call.
 */
export class ServiceLoggers {
  readonly app: Logger;
  readonly requests: Logger;

  constructor(
    config: Pick<AppConfig, 'logLevel' | 'nodeEnv'>,
    destination: DestinationStream | null,
  ) {
    const { transport, ...options } = loggerOptions(config);
    const stream = destination ?? (transport ? pino.transport(transport) : pino.destination(1));
    this.app = pino(options, stream);
    const { redact: _redact, ...unredacted } = options;
    this.requests = pino(unredacted, stream);
  }
}
