import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configProviders, loadConfig, processConfig } from './configuration';
import { ConfigValidationError } from './env.validation';

describe('loadConfig', () => {
  let dir: string;
  let envFile: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'config-spec-'));
    envFile = join(dir, '.env');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('takes from the .env file what the environment leaves unset', () => {
    writeFileSync(envFile, 'PORT=9100\nHOST=127.0.0.1\nWEB_CONCURRENCY=3\n');
    const config = loadConfig({ envFile, env: { HOST: '0.0.0.0' } });
    expect(config.app.port).toBe(9100);
    expect(config.app.webConcurrency).toBe(3);
    expect(config.app.host).toBe('0.0.0.0');
  });

  it('lets overrides win over the environment and the file', () => {
    writeFileSync(envFile, 'LOG_LEVEL=debug\n');
    const config = loadConfig({
      envFile,
      env: { LOG_LEVEL: 'warn' },
      overrides: { LOG_LEVEL: 'error' },
    });
    expect(config.app.logLevel).toBe('error');
  });

  it('reads no file when told not to, nor a missing one', () => {
    writeFileSync(envFile, 'PORT=9100\n');
    expect(loadConfig({ envFile: false, env: {} }).app.port).toBe(8000);
    expect(loadConfig({ envFile: join(dir, 'absent.env'), env: {} }).app.port).toBe(8000);
  });

  it('never writes the variables it read into process.env', () => {
    const name = 'RATE_LIMIT_IPV6_PREFIX';
    const before = process.env[name];
    writeFileSync(envFile, `${name}=48\n`);
    expect(loadConfig({ envFile, env: {} }).security.ipv6Prefix).toBe(48);
    expect(process.env[name]).toBe(before);
  });

  it('freezes the whole object, nested parts included', () => {
    const config = loadConfig({ envFile: false, env: { CORS_ORIGINS: 'https://a.test' } });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.app)).toBe(true);
    expect(Object.isFrozen(config.app.corsOrigins)).toBe(true);
    expect(Object.isFrozen(config.security.rateLimits.login)).toBe(true);
    expect(() => {
      (config.app as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it('refuses a bad variable from the file, naming it', () => {
    writeFileSync(envFile, 'WEB_CONCURRENCY=0\n');
    expect(() => loadConfig({ envFile, env: {} })).toThrow(ConfigValidationError);
    expect(() => loadConfig({ envFile, env: {} })).toThrow(/WEB_CONCURRENCY/);
  });

  it('serves each namespace under its injection token', () => {
    const config = loadConfig({ envFile: false, env: { PORT: '9200' } });
    const providers = configProviders(config);
    expect(providers).toContainEqual({ provide: 'CONFIGURATION(app)', useValue: config.app });
    expect(providers.map((p) => p.useValue)).toEqual([
      config.app,
      config.database,
      config.auth,
      config.security,
    ]);
  });
});

describe('processConfig', () => {
  it('reads the environment once and then hands out the same object', () => {
    expect(processConfig()).toBe(processConfig());
  });
});
