import { pino, type Logger } from 'pino';
import type { AppConfig } from '../config/configuration';
import { loggerOptions } from './logger-options';

/**
 * The logger for code that runs outside Nest: the cluster primary and the
 * start-up checks before the application exists. Same format as the request
 * logs, so one log query covers both.
 */
export function createProcessLogger(
  app: Pick<AppConfig, 'logLevel' | 'nodeEnv'>,
  context: string,
): Logger {
  return pino(loggerOptions(app)).child({ context });
}
