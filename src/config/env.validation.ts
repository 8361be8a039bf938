import { plainToInstance, Transform } from 'class-transformer';
import {
  IsEmail,
  IsIn,
  IsInt,
  IsIP,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  MinLength,
  validateSync,
} from 'class-validator';
import { RATE_LIMIT_PATTERN } from './rate-limit';
import { trustProxyListProblem } from './trust-proxy-setting';

export const NODE_ENVS = ['development', 'test', 'production'] as const;
export type NodeEnv = (typeof NODE_ENVS)[number];

const RATE_LIMIT_MESSAGE = (name: string) =>
  `${name} must be "off" or <count>/<duration> such as 10/15m`;

const toInt = ({ value }: { value: unknown }) =>
  value === undefined || value === '' ? undefined : Number(value);

/**
 * Every environment variable the service reads. Validated once at boot so a
 * typo fails the start with the variable's name instead of a runtime surprise.
 */
export class EnvironmentVariables {
  @IsOptional()
  @IsIn(NODE_ENVS)
  NODE_ENV: NodeEnv = 'development';

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT = 8000;

  /** 127.0.0.1 behind a proxy on the same host (Elastic Beanstalk); 0.0.0.0 in a container. */
  @IsOptional()
  @IsIP(undefined, { message: 'HOST must be an IP address such as 0.0.0.0 or 127.0.0.1' })
  HOST = '0.0.0.0';

  @IsOptional()
  @Matches(/^mongodb(\+srv)?:\/\/\S+$/, {
    message: 'MONGODB_URI must be a mongodb:// or mongodb+srv:// connection string',
  })
  MONGODB_URI?: string;

  @IsOptional()
  @Matches(/^[A-Za-z0-9_-]{1,38}$/, {
    message: 'MASTER_DB_NAME must be 1-38 characters of letters, digits, "_" or "-"',
  })
  MASTER_DB_NAME = 'master_db';

  @IsOptional()
  @IsString()
  JWT_SECRET?: string;

  @IsOptional()
  @Matches(/^\d+[smhd]?$/, { message: 'JWT_EXPIRES_IN must look like 1800, 30m, 12h or 1d' })
  JWT_EXPIRES_IN = '30m';

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(4)
  @Max(15)
  BCRYPT_COST = 12;

  @IsOptional()
  @IsString()
  CORS_ORIGINS = '';

  /** Requests per client address to all but the health endpoints: `<count>/<duration>` or `off`. */
  @IsOptional()
  @Matches(RATE_LIMIT_PATTERN, { message: RATE_LIMIT_MESSAGE('RATE_LIMIT_GLOBAL') })
  RATE_LIMIT_GLOBAL = '1000/1m';

  /** Login attempts per client address. */
  @IsOptional()
  @Matches(RATE_LIMIT_PATTERN, { message: RATE_LIMIT_MESSAGE('RATE_LIMIT_LOGIN') })
  RATE_LIMIT_LOGIN = '30/1m';

  /** Organization creations per client address. */
  @IsOptional()
  @Matches(RATE_LIMIT_PATTERN, { message: RATE_LIMIT_MESSAGE('RATE_LIMIT_CREATE') })
  RATE_LIMIT_CREATE = '20/1h';

  /**
   * Per-address limits count an IPv6 client by its network of this many
   * bits: one subscriber usually holds a whole /64 (or /56, /48).
   */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(16)
  @Max(128)
  RATE_LIMIT_IPV6_PREFIX = 64;

  /** Login attempts per account before it is locked until the window has room again. */
  @IsOptional()
  @Matches(RATE_LIMIT_PATTERN, { message: RATE_LIMIT_MESSAGE('LOGIN_LOCKOUT') })
  LOGIN_LOCKOUT = '10/15m';

  @IsOptional()
  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL = 'info';

  /** Worker processes sharing the port; unset = one per CPU in production, 1 elsewhere. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(64)
  WEB_CONCURRENCY?: number;

  /** Upper bound for draining in-flight requests on SIGTERM/SIGINT before connections are cut. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  @Max(120_000)
  SHUTDOWN_TIMEOUT_MS = 8000;

  /** How long a production start waits for the database before it gives up (exit 1). */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(500)
  @Max(120_000)
  DB_STARTUP_TIMEOUT_MS = 10_000;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(100_000)
  TENANT_CACHE_SIZE = 1000;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  OPERATION_LEASE_MS = 30_000;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(10_000)
  COPY_BATCH_SIZE = 1000;

  @IsOptional()
  @IsString()
  @MinLength(1)
  @Matches(/^(?!true$)/, {
    message:
      'TRUST_PROXY=true would trust any client; use false, a hop count (1 = NGINX) or proxy address ranges',
  })
  TRUST_PROXY = 'false';

  /** Bootstraps the operator account at start-up (both or neither). */
  @IsOptional()
  @IsEmail({}, { message: 'SUPERADMIN_EMAIL must be an email address' })
  SUPERADMIN_EMAIL?: string;

  @IsOptional()
  @IsString()
  SUPERADMIN_PASSWORD?: string;

  /** Who may create organizations: anyone, or only the super admin. */
  @IsOptional()
  @IsIn(['public', 'superadmin'])
  ORG_CREATE_POLICY: 'public' | 'superadmin' = 'public';

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(3650)
  AUDIT_RETENTION_DAYS = 90;

  @IsOptional()
  @IsIn(['true', 'false'])
  MIGRATE_ON_START = 'false';

  /**
   * How long a tenant write's intent holds off a rename or delete (the
   * per-write fence); a writer stalled longer loses its write's
   * acknowledgement. Must be shorter than OPERATION_LEASE_MS.
   */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(50)
  @Max(60_000)
  TENANT_WRITE_DRAIN_MS = 5000;
}

const PLACEHOLDER_SECRET = /change[-_ ]?me|secret|example|placeholder|your[-_]/i;

/** Cross-field rules that a single decorator cannot express. */
function crossFieldErrors(env: EnvironmentVariables): string[] {
  const errors: string[] = [];
  if (env.TENANT_WRITE_DRAIN_MS >= env.OPERATION_LEASE_MS) {
    errors.push(
      `TENANT_WRITE_DRAIN_MS (${env.TENANT_WRITE_DRAIN_MS}) must be shorter than OPERATION_LEASE_MS (${env.OPERATION_LEASE_MS}): an operation waits for in-flight writes within its lease`,
    );
  }
  if (!/^(false|\d+)$/.test(env.TRUST_PROXY) && env.TRUST_PROXY !== 'true') {
    const problem = trustProxyListProblem(env.TRUST_PROXY);
    if (problem) errors.push(problem);
  }
  const secret = env.JWT_SECRET;
  if (secret !== undefined && Buffer.byteLength(secret) < 32) {
    errors.push('JWT_SECRET must be at least 32 bytes long');
  }
  if (env.NODE_ENV === 'production') {
    if (!env.MONGODB_URI) {
      errors.push(
        'MONGODB_URI is required in production (there is no embedded database outside development and tests)',
      );
    }
    if (!secret) errors.push('JWT_SECRET is required in production');
    else if (PLACEHOLDER_SECRET.test(secret)) {
      errors.push(
        'JWT_SECRET looks like a placeholder; generate one with `openssl rand -base64 48`',
      );
    }
  }
  if (Boolean(env.SUPERADMIN_EMAIL) !== Boolean(env.SUPERADMIN_PASSWORD)) {
    errors.push('SUPERADMIN_EMAIL and SUPERADMIN_PASSWORD must be set together');
  }
  const superPassword = env.SUPERADMIN_PASSWORD;
  if (
    superPassword !== undefined &&
    (Buffer.byteLength(superPassword) < 12 || Buffer.byteLength(superPassword) > 72)
  ) {
    errors.push('SUPERADMIN_PASSWORD must be 12 to 72 bytes');
  }
  if (env.BCRYPT_COST < 10 && env.NODE_ENV !== 'test') {
    errors.push('BCRYPT_COST below 10 is only allowed when NODE_ENV=test');
  }
  return errors;
}

export class ConfigValidationError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigValidationError';
  }
}

export function validateEnvironment(raw: Record<string, unknown>): EnvironmentVariables {
  const env = plainToInstance(EnvironmentVariables, raw, { exposeDefaultValues: true });
  const problems = validateSync(env, { skipMissingProperties: false }).flatMap((e) =>
    Object.values(e.constraints ?? {}).map((m) =>
      m.startsWith(e.property) ? m : `${e.property}: ${m}`,
    ),
  );
  problems.push(...crossFieldErrors(env));
  if (problems.length > 0) throw new ConfigValidationError(problems);
  return env;
}
