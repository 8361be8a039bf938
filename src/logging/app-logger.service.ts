import { Injectable, type LoggerService } from '@nestjs/common';
import type { Level, Logger } from 'pino';
import { scopedLogger } from './request-log-context';
import { ServiceLoggers } from './service-loggers';

/** A stack trace as Nest's own exception handlers pass it: `error(message, stack, context)`. */
const STACK = /\n[\t ]*at /;

/**
 * Nest's logger (`app.useLogger`), on pino: every `new Logger(Context)` in
 * the code logs here, with `context` as a field, the request id while
 * handling a request, and credentials redacted.
 *
 * Call shapes, as Nest's Logger forwards them (context last): `log(message)`,
 * `warn({ err }, message)`, and Nest's exception handlers'
 * `error(message, stack)`.
 */
@Injectable()
export class AppLogger implements LoggerService {
  private readonly root: Logger;

  constructor(loggers: ServiceLoggers) {
    this.root = loggers.app;
  }

  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }

  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  private write(level: Level, message: unknown, params: unknown[]): void {
    const logger = scopedLogger(this.root);
    if (!logger.isLevelEnabled(level)) return;
    const fields: Record<string, unknown> = {};
    let rest = params;
    if (params.length > 0) {
      fields.context = params[params.length - 1];
      rest = params.slice(0, -1);
    }
    if (message instanceof Error) {
      fields.err = message;
      logger[level](fields, ...(rest as []));
    } else if (typeof message === 'object' && message !== null) {
      logger[level](Object.assign(fields, message), ...(rest as []));
    } else if (
      level === 'error' &&
      rest.length === 1 &&
      typeof rest[0] === 'string' &&
      STACK.test(rest[0])
    ) {
      const err = new Error(String(message));
      err.stack = rest[0];
      fields.err = err;
      logger[level](fields);
    } else {
      logger[level](fields, String(message), ...(rest as []));
    }
  }
}
