import { createRequire } from 'node:module';
import { pino, type LoggerOptions } from 'pino';
import type { AppConfig } from '../config/configuration';

/**
 * Paths pino replaces with `[redacted]` in every line, whoever logs it. The
 * request line never carries headers or bodies in the first place (see
 * request-log.ts); this is the second fence, for an object someone logs by hand.
 */
export const REDACTED_PATHS = [
  'password',
  '*.password',
  'current_password',
  '*.current_password',
  'new_password',
  '*.new_password',
  'access_token',
  '*.access_token',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers.cookie',
  'jwtSecret',
  '*.jwtSecret',
];

const requireFromHere = createRequire(__filename);

/** pino-pretty is a devDependency: present in a checkout, absent from the deployment bundle. */
function prettyIsInstalled(): boolean {
  try {
    requireFromHere.resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

/**
 * One set of options for every pino logger in the process (the request logger
 * behind Nest, and the bootstrap/cluster-primary logger), so all lines share
 * level names, timestamps and redaction.
 *
 * JSON everywhere except development, where pino-pretty renders one coloured
 * line per entry if it is installed.
 */
export function loggerOptions(app: Pick<AppConfig, 'logLevel' | 'nodeEnv'>): LoggerOptions {
  const options: LoggerOptions = {
    level: app.logLevel,
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  };
  if (app.nodeEnv === 'development' && prettyIsInstalled()) {
    options.transport = {
      target: 'pino-pretty',
      options: { singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'hostname' },
    };
  } else {
    // Log shippers (CloudWatch, Loki) filter on "level":"error" more easily than on 50.
    options.formatters = { level: (label) => ({ level: label }) };
  }
  return options;
}
