import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { registerAs } from '@nestjs/config';
import { parse as parseDotenv } from 'dotenv';
import { type EnvironmentVariables, validateEnvironment } from './env.validation';
import { parseRateLimit } from './rate-limit';
import { parseTenantClusters } from './tenant-clusters';
import { parseTrustProxy } from './trust-proxy-setting';

function appSettings(e: EnvironmentVariables) {
  return {
    nodeEnv: e.NODE_ENV,
    isProduction: e.NODE_ENV === 'production',
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    corsOrigins: e.CORS_ORIGINS.split(',')
      .map((o) => o.trim())
      .filter(Boolean),
    trustProxy: parseTrustProxy(e.TRUST_PROXY),
    host: e.HOST,
    // The seed ran one worker per core; development keeps one process for watch mode.
    webConcurrency: e.WEB_CONCURRENCY ?? (e.NODE_ENV === 'production' ? availableParallelism() : 1),
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
  };
}

function databaseSettings(e: EnvironmentVariables) {
  return {
    uri: e.MONGODB_URI,
    startupTimeoutMs: e.DB_STARTUP_TIMEOUT_MS,
    masterDbName: e.MASTER_DB_NAME,
    tenantCacheSize: e.TENANT_CACHE_SIZE,
    tenantClusters: parseTenantClusters(e.TENANT_CLUSTERS).clusters,
    tenantPlacement: e.TENANT_PLACEMENT,
    operationLeaseMs: e.OPERATION_LEASE_MS,
    copyBatchSize: e.COPY_BATCH_SIZE,
    syncOperationBudgetMs: e.SYNC_OPERATION_BUDGET_MS,
    tenantWriteDrainMs: e.TENANT_WRITE_DRAIN_MS,
    migrateOnStart: e.MIGRATE_ON_START === 'true',
    auditRetentionDays: e.AUDIT_RETENTION_DAYS,
  };
}

// Development without JWT_SECRET gets a random secret for the process (tokens
// die with it), the same for every configuration the process loads, so two
// test apps in one process accept each other's tokens; production refuses to
// start without one, see env.validation.ts.
let generatedSecret: string | undefined;

function authSettings(e: EnvironmentVariables) {
  const secretFromEnv = e.JWT_SECRET;
  generatedSecret ??= randomBytes(48).toString('base64');
  return {
    jwtSecret: secretFromEnv ?? generatedSecret,
    jwtSecretGenerated: secretFromEnv === undefined,
    jwtExpiresIn: e.JWT_EXPIRES_IN,
    jwtIssuer: 'org-management-service',
    jwtAudience: 'org-management-api',
    bcryptCost: e.BCRYPT_COST,
    superadmin:
      e.SUPERADMIN_EMAIL && e.SUPERADMIN_PASSWORD
        ? { email: e.SUPERADMIN_EMAIL.trim().toLowerCase(), password: e.SUPERADMIN_PASSWORD }
        : null,
    orgCreatePolicy: e.ORG_CREATE_POLICY,
  };
}

function securitySettings(e: EnvironmentVariables) {
  return {
    rateLimits: {
      global: parseRateLimit(e.RATE_LIMIT_GLOBAL),
      login: parseRateLimit(e.RATE_LIMIT_LOGIN),
      create: parseRateLimit(e.RATE_LIMIT_CREATE),
    },
    ipv6Prefix: e.RATE_LIMIT_IPV6_PREFIX,
    loginLockout: parseRateLimit(e.LOGIN_LOCKOUT),
  };
}

export type AppConfig = Readonly<ReturnType<typeof appSettings>>;
export type DatabaseConfig = Readonly<ReturnType<typeof databaseSettings>>;
export type AuthConfig = Readonly<ReturnType<typeof authSettings>>;
export type SecurityConfig = Readonly<ReturnType<typeof securitySettings>>;

/** The whole configuration, one frozen object per namespace. */
export interface Config {
  readonly app: AppConfig;
  readonly database: DatabaseConfig;
  readonly auth: AuthConfig;
  readonly security: SecurityConfig;
}

/** Where a configuration is read from, each source winning over the one before. */
export interface ConfigSources {
  /**
   * A dotenv file whose variables fill in what the environment leaves unset
   * (dotenv's and Nest's ConfigModule's rule). Default `.env` in the working
   * directory when it exists; `false` reads no file.
   */
  envFile?: string | false;
  /** Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Variables that win over the file and the environment: what a test sets. */
  overrides?: Readonly<Record<string, string>>;
}

function readEnvFile(path: string | false | undefined): Record<string, string> {
  const file = path === undefined ? resolve(process.cwd(), '.env') : path;
  if (file === false || !existsSync(file)) return {};
  return parseDotenv(readFileSync(file));
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/**
 * Reads and validates the environment into a frozen {@link Config}; throws a
 * ConfigValidationError naming every bad variable. Pure apart from reading
 * the file: it never writes `process.env`.
 */
export function loadConfig(sources: ConfigSources = {}): Config {
  const env = validateEnvironment({
    ...readEnvFile(sources.envFile),
    ...(sources.env ?? process.env),
    ...sources.overrides,
  });
  return deepFreeze({
    app: appSettings(env),
    database: databaseSettings(env),
    auth: authSettings(env),
    security: securitySettings(env),
  });
}

let processWide: Config | undefined;

/**
 * This process's configuration: read and validated on first use (main.ts's
 * first line, or Nest building the application), then the same object for
 * every reader, inside Nest or not.
 */
export function processConfig(): Config {
  return (processWide ??= loadConfig());
}

/**
 * The namespaces Nest injects (`@Inject(appConfig.KEY) config: AppConfig`),
 * each serving its part of {@link processConfig}. Code outside Nest reads
 * `processConfig()` instead of calling these.
 */
export const appConfig = registerAs('app', () => processConfig().app);
export const databaseConfig = registerAs('database', () => processConfig().database);
export const authConfig = registerAs('auth', () => processConfig().auth);
export const securityConfig = registerAs('security', () => processConfig().security);

const NAMESPACES = {
  app: appConfig,
  database: databaseConfig,
  auth: authConfig,
  security: securityConfig,
} as const;

export const configNamespaces = Object.values(NAMESPACES);

/**
 * Providers serving `config` under the namespaces' tokens, for an application
 * that must not use the process's configuration (a test's overrides).
 */
export function configProviders(config: Config): Array<{ provide: string; useValue: unknown }> {
  return (Object.keys(NAMESPACES) as Array<keyof Config>).map((name) => ({
    provide: NAMESPACES[name].KEY as string,
    useValue: config[name],
  }));
}
