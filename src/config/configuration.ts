import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { ConfigType, registerAs } from '@nestjs/config';
import { parseRateLimit } from '../security/rate-limit';
import { validateEnvironment } from './env.validation';

/**
 * Typed configuration namespaces. Each factory re-reads the validated
 * environment, so code never touches `process.env` and never sees an
 * unvalidated or untransformed value.
 */
const env = () => validateEnvironment(process.env);

function parseTrustProxy(value: string): boolean | number | string {
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (/^\d+$/.test(value)) return Number(value);
  return value;
}

export const appConfig = registerAs('app', () => {
  const e = env();
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
});

export const databaseConfig = registerAs('database', () => {
  const e = env();
  return {
    uri: e.MONGODB_URI,
    startupTimeoutMs: e.DB_STARTUP_TIMEOUT_MS,
    masterDbName: e.MASTER_DB_NAME,
    tenantCacheSize: e.TENANT_CACHE_SIZE,
    operationLeaseMs: e.OPERATION_LEASE_MS,
    copyBatchSize: e.COPY_BATCH_SIZE,
    tenantWriteDrainMs: e.TENANT_WRITE_DRAIN_MS,
    migrateOnStart: e.MIGRATE_ON_START === 'true',
    auditRetentionDays: e.AUDIT_RETENTION_DAYS,
  };
});

let generatedSecret: string | undefined;

export const authConfig = registerAs('auth', () => {
  const e = env();
  // Development without JWT_SECRET gets a random per-process secret (tokens die
  // with the process); production refuses to start, see env.validation.ts.
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
});

export const securityConfig = registerAs('security', () => {
  const e = env();
  return {
    rateLimits: {
      global: parseRateLimit(e.RATE_LIMIT_GLOBAL),
      login: parseRateLimit(e.RATE_LIMIT_LOGIN),
      create: parseRateLimit(e.RATE_LIMIT_CREATE),
    },
    ipv6Prefix: e.RATE_LIMIT_IPV6_PREFIX,
    loginLockout: parseRateLimit(e.LOGIN_LOCKOUT),
  };
});

export type AppConfig = ConfigType<typeof appConfig>;
export type DatabaseConfig = ConfigType<typeof databaseConfig>;
export type AuthConfig = ConfigType<typeof authConfig>;
export type SecurityConfig = ConfigType<typeof securityConfig>;

export const configNamespaces = [appConfig, databaseConfig, authConfig, securityConfig];
