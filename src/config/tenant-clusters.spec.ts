import { loadConfig } from './configuration';
import { ConfigValidationError } from './env.validation';
import { parseTenantClusters } from './tenant-clusters';

const SECRET = 's3cr3t-Passw0rd';
const problemsOf = (raw: string) => parseTenantClusters(raw).problems;

describe('parseTenantClusters', () => {
  it('reads names and connection strings in the order written', () => {
    const { clusters, problems } = parseTenantClusters(
      '{"eu-2":"mongodb+srv://u:p@eu-2.example.net/","eu-1":"mongodb://h1:27017,h2:27017/?replicaSet=rs0"}',
    );
    expect(problems).toEqual([]);
    expect(Object.keys(clusters)).toEqual(['eu-2', 'eu-1']);
    expect(clusters['eu-1']).toBe('mongodb://h1:27017,h2:27017/?replicaSet=rs0');
  });

  it.each([undefined, '', '  '])('has no extra cluster when unset (%p)', (raw) => {
    expect(parseTenantClusters(raw)).toEqual({ clusters: {}, problems: [] });
  });

  it('refuses redefining default, the cluster of MONGODB_URI', () => {
    expect(problemsOf('{"default":"mongodb://other:27017"}')).toEqual([
      expect.stringContaining('"default" is the cluster of MONGODB_URI'),
    ]);
  });

  it.each(['EU-1', 'eu_1', '', 'a'.repeat(33), 'eu 1'])('refuses the cluster name %p', (name) => {
    expect(problemsOf(JSON.stringify({ [name]: 'mongodb://h:27017' }))).toEqual([
      expect.stringContaining('1-32 characters of lower-case letters, digits or "-"'),
    ]);
  });

  it.each([
    ['a JSON array', '["mongodb://h"]', 'must be a JSON object of cluster names'],
    ['a string', '"mongodb://h"', 'must be a JSON object of cluster names'],
    ['a non-string URI', '{"eu-1":27017}', 'must be a mongodb:// or mongodb+srv://'],
    ['another scheme', '{"eu-1":"postgres://h"}', 'must be a mongodb:// or mongodb+srv://'],
    ['an SRV URI with a port', '{"eu-1":"mongodb+srv://h.example.net:27017/"}', 'does not parse'],
    ['an unknown option', '{"eu-1":"mongodb://h/?notAnOption=1"}', 'does not parse'],
  ])('refuses %s', (_what, raw, message) => {
    expect(problemsOf(raw)).toEqual([expect.stringContaining(message)]);
  });

  it('never quotes a credential, whichever way the value is wrong', () => {
    const bad = [
      `{"eu-1":"mongodb+srv://admin:${SECRET}@h.example.net:1/"}`,
      `{"eu-1":"mongodb://admin:${SECRET}@h/?notAnOption=1"}`,
      `{"eu-1":"mongodb://admin:${SECRET}@h" "eu-2"}`,
      `{"EU":"mongodb://admin:${SECRET}@h"}`,
    ];
    for (const raw of bad) {
      const problems = problemsOf(raw);
      expect(problems.length).toBeGreaterThan(0);
      expect(problems.join('\n')).not.toContain(SECRET);
    }
  });
});

describe('TENANT_CLUSTERS and TENANT_PLACEMENT in the configuration', () => {
  const load = (env: Record<string, string>) => loadConfig({ envFile: false, env });

  it('serves the extra clusters and the placement to the database namespace', () => {
    const config = load({
      TENANT_CLUSTERS: '{"eu-2":"mongodb://h:27017"}',
      TENANT_PLACEMENT: 'spread',
    });
    expect(config.database.tenantClusters).toEqual({ 'eu-2': 'mongodb://h:27017' });
    expect(config.database.tenantPlacement).toBe('spread');
  });

  it('defaults to no extra cluster and default placement', () => {
    const config = load({});
    expect(config.database.tenantClusters).toEqual({});
    expect(config.database.tenantPlacement).toBe('default');
  });

  it('refuses the start, naming the variable and not the password', () => {
    const env = { TENANT_CLUSTERS: `{"default":"mongodb://a:${SECRET}@h"}` };
    expect(() => load(env)).toThrow(ConfigValidationError);
    try {
      load(env);
    } catch (error) {
      expect((error as Error).message).toMatch(/TENANT_CLUSTERS/);
      expect((error as Error).message).not.toContain(SECRET);
    }
  });

  it('refuses an unknown placement', () => {
    expect(() => load({ TENANT_PLACEMENT: 'random' })).toThrow(/TENANT_PLACEMENT/);
  });
});
