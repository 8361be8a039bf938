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
import { parseTenantClusters, TENANT_PLACEMENTS, type TenantPlacement } from './tenant-clusters';
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
 *
 * This class is also the variables' documentation: `npm run env:docs` writes
 * README.md's table and .env.example from it (the first paragraph of each
 * comment is the README's meaning, the whole comment the .env.example note;
 * `@default` describes a default that is not a literal, `@example` fills a
 * commented-out line). CI checks that they agree.
 */
export class EnvironmentVariables {
  /** `development`, `test` or `production`. */
  @IsOptional()
  @IsIn(NODE_ENVS)
  NODE_ENV: NodeEnv = 'development';

  /** HTTP port (Elastic Beanstalk sets it). */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT = 8000;

  /**
   * Interface to listen on: `0.0.0.0` (all; containers) or `127.0.0.1` (only a
   * proxy on this host reaches Node, as on Elastic Beanstalk).
   */
  @IsOptional()
  @IsIP(undefined, { message: 'HOST must be an IP address such as 0.0.0.0 or 127.0.0.1' })
  HOST = '0.0.0.0';

  /**
   * MongoDB connection string; **required in production**.
   *
   * Unset in development = an embedded database is started (mongod on PATH,
   * else FerretDB built into .tools/).
   * @default (embedded database)
   * @example mongodb+srv://USER:PASSWORD@cluster0.example.mongodb.net/?retryWrites=true&w=majority
   */
  @IsOptional()
  @Matches(/^mongodb(\+srv)?:\/\/\S+$/, {
    message: 'MONGODB_URI must be a mongodb:// or mongodb+srv:// connection string',
  })
  MONGODB_URI?: string;

  /** The database holding organizations, admins and slug reservations. */
  @IsOptional()
  @Matches(/^[A-Za-z0-9_-]{1,38}$/, {
    message: 'MASTER_DB_NAME must be 1-38 characters of letters, digits, "_" or "-"',
  })
  MASTER_DB_NAME = 'master_db';

  /**
   * HS256 signing secret of at least 32 bytes (`openssl rand -base64 48`);
   * **required in production**, placeholders refused. Idempotency records
   * are keyed with a secret derived from it (HKDF).
   *
   * Unset in development = a random per-process secret (tokens die on
   * restart). Changing it also forgets the stored idempotent answers.
   * @default random per process (development only)
   */
  @IsOptional()
  @IsString()
  JWT_SECRET?: string;

  /** Access token lifetime: seconds or `30m`, `12h`, `1d`. */
  @IsOptional()
  @Matches(/^\d+[smhd]?$/, { message: 'JWT_EXPIRES_IN must look like 1800, 30m, 12h or 1d' })
  JWT_EXPIRES_IN = '30m';

  /**
   * bcrypt cost factor, 10 to 15 (lower only with `NODE_ENV=test`). Stored
   * hashes move to it at their owner's next login.
   *
   * Until then every password check costs as much as the most expensive hash
   * in use, so timing reveals nothing.
   */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(4)
  @Max(15)
  BCRYPT_COST = 12;

  /** Comma-separated browser origins allowed by CORS; empty = CORS off. */
  @IsOptional()
  @IsString()
  CORS_ORIGINS = '';

  /**
   * The operator (super admin) account, bootstrapped at start-up: set both
   * SUPERADMIN_ variables or neither. A new email retires the previous operator.
   *
   * Its tokens stop working and it can no longer log in. Start-up refuses an
   * email that belongs to an organization admin.
   * @default (none)
   */
  @IsOptional()
  @IsEmail({}, { message: 'SUPERADMIN_EMAIL must be an email address' })
  SUPERADMIN_EMAIL?: string;

  /**
   * The operator's password, 12 to 72 bytes, stored only as a bcrypt hash;
   * changing it rotates it.
   * @default (none)
   */
  @IsOptional()
  @IsString()
  SUPERADMIN_PASSWORD?: string;

  /** Who may create organizations: `public` (anyone) or `superadmin`. */
  @IsOptional()
  @IsIn(['public', 'superadmin'])
  ORG_CREATE_POLICY: 'public' | 'superadmin' = 'public';

  /**
   * Requests per client address to every route but /health/*:
   * `<count>/<duration>` (s, m, h, d) or `off`.
   *
   * Counted in the master database, so all workers and instances share the
   * rate limits.
   */
  @IsOptional()
  @Matches(RATE_LIMIT_PATTERN, { message: RATE_LIMIT_MESSAGE('RATE_LIMIT_GLOBAL') })
  RATE_LIMIT_GLOBAL = '1000/1m';

  /** Login attempts per client address, on top of the global limit. */
  @IsOptional()
  @Matches(RATE_LIMIT_PATTERN, { message: RATE_LIMIT_MESSAGE('RATE_LIMIT_LOGIN') })
  RATE_LIMIT_LOGIN = '30/1m';

  /** Organization creations per client address, on top of the global limit. */
  @IsOptional()
  @Matches(RATE_LIMIT_PATTERN, { message: RATE_LIMIT_MESSAGE('RATE_LIMIT_CREATE') })
  RATE_LIMIT_CREATE = '20/1h';

  /**
   * IPv6 clients count against per-address limits by their network of this
   * many bits (16 to 128).
   *
   * One subscriber usually holds a whole /64 (or /56, /48).
   */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(16)
  @Max(128)
  RATE_LIMIT_IPV6_PREFIX = 64;

  /**
   * Password checks per account (logins and the `current_password` of
   * PUT /org/update together) before it answers 429 with Retry-After, even
   * for the right password, until the window has room again.
   */
  @IsOptional()
  @Matches(RATE_LIMIT_PATTERN, { message: RATE_LIMIT_MESSAGE('LOGIN_LOCKOUT') })
  LOGIN_LOCKOUT = '10/15m';

  /** pino level: fatal, error, warn, info, debug, trace or silent. */
  @IsOptional()
  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL = 'info';

  /**
   * Worker processes sharing the port; a crashed worker is replaced.
   * @default one per CPU in production, 1 otherwise
   */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(64)
  WEB_CONCURRENCY?: number;

  /**
   * On SIGTERM/SIGINT, how long in-flight requests may finish before
   * connections are cut (exit 1).
   */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  @Max(120_000)
  SHUTDOWN_TIMEOUT_MS = 8000;

  /**
   * Production start: how long to wait for the database before exiting 1
   * with a clear message.
   */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(500)
  @Max(120_000)
  DB_STARTUP_TIMEOUT_MS = 10_000;

  /** Tenant database handles kept in the LRU cache. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(100_000)
  TENANT_CACHE_SIZE = 1000;

  /**
   * More MongoDB clusters for tenant databases: a JSON object of cluster name
   * (`[a-z0-9-]{1,32}`) to connection string. MONGODB_URI's cluster is always
   * there as `default`.
   *
   * An organization records its cluster's name, never its URI, so a URI can
   * be rotated here; removing a name that organizations still use makes
   * their requests answer 503 ORG_CLUSTER_NOT_CONFIGURED.
   * @default (none: every tenant on MONGODB_URI's cluster)
   * @example '{"eu-2":"mongodb+srv://USER:PASSWORD@eu-2.example.mongodb.net/"}'
   */
  @IsOptional()
  @IsString()
  TENANT_CLUSTERS?: string;

  /**
   * The cluster of a new organization: `default`, or `spread` (the cluster
   * with the fewest organizations). The super admin may name one instead.
   */
  @IsOptional()
  @IsIn(TENANT_PLACEMENTS)
  TENANT_PLACEMENT: TenantPlacement = 'default';

  /**
   * How long a create, rename or delete may run without renewing its lease
   * before repair takes it over.
   */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  OPERATION_LEASE_MS = 30_000;

  /**
   * How long a rename or delete request waits for its operation before it
   * answers 202 Accepted with the operation to poll (`Prefer: respond-async`
   * asks for that at once).
   *
   * Keep it well under the proxy's timeout (60 s for NGINX and the AWS load
   * balancer by default) so a long operation is never cut off with a 504.
   */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(50_000)
  SYNC_OPERATION_BUDGET_MS = 10_000;

  /** Documents per batch when a rename copies a tenant database. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(10_000)
  COPY_BATCH_SIZE = 1000;

  /**
   * How long an in-flight member or admin write holds off a rename or delete
   * (the per-write fence); shorter than OPERATION_LEASE_MS.
   *
   * A writer stalled longer loses its write's acknowledgement.
   */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(50)
  @Max(60_000)
  TENANT_WRITE_DRAIN_MS = 5000;

  /**
   * Proxies whose X-Forwarded-For entries are believed: `false` (direct), a
   * hop count (`1` = NGINX alone, as in docker compose; trusted only from
   * loopback or private peers), or proxy address ranges walked from the right
   * (Elastic Beanstalk ships `loopback` plus the private ranges). `true` is
   * refused.
   */
  @IsOptional()
  @IsString()
  @MinLength(1)
  @Matches(/^(?!true$)/, {
    message:
      'TRUST_PROXY=true would trust any client; use false, a hop count (1 = NGINX) or proxy address ranges',
  })
  TRUST_PROXY = 'false';

  /** How long audit events are kept, in days. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(3650)
  AUDIT_RETENTION_DAYS = 90;

  /** Apply pending migrations at start-up (`true` or `false`; else `npm run migrate`). */
  @IsOptional()
  @IsIn(['true', 'false'])
  MIGRATE_ON_START = 'false';
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
  errors.push(...parseTenantClusters(env.TENANT_CLUSTERS).problems);
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
