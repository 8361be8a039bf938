import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { envExample, readSchema, readmeTable, unknownInDeployment } from './env-docs';

const schema = readSchema(
  readFileSync(join(__dirname, '..', '..', 'src', 'config', 'env.validation.ts'), 'utf8'),
);

describe('env-docs', () => {
  it('reads every variable of the schema with its default and comment', () => {
    const byName = new Map(schema.map((v) => [v.name, v]));
    expect(byName.get('PORT')).toEqual(expect.objectContaining({ value: '8000' }));
    expect(byName.get('DB_STARTUP_TIMEOUT_MS')?.value).toBe('10000');
    expect(byName.get('WEB_CONCURRENCY')).toEqual(
      expect.objectContaining({ value: undefined, defaultText: expect.any(String) }),
    );
    expect(byName.get('MONGODB_URI')?.example).toMatch(/^mongodb\+srv:\/\//);
  });

  it('writes a commented-out line for a variable without a literal default', () => {
    const text = envExample(schema);
    expect(text).toMatch(/^# WEB_CONCURRENCY=$/m);
    expect(text).toMatch(/^PORT=8000$/m);
  });

  it('shows "(none)" for an empty default in the README table', () => {
    expect(readmeTable(schema)).toContain('| `CORS_ORIGINS` | (none) |');
  });

  it('names what DEPLOYMENT.md lists but the schema does not define', () => {
    const deployment = [
      '## Environment variables',
      '| variable | value |',
      '| --- | --- |',
      '| `PORT`, `HOST` | x |',
      '| `PORTT` | y |',
      '## Next',
      '| `NOT_IN_THE_TABLE` | z |',
    ].join('\n');
    expect(unknownInDeployment(deployment, schema)).toEqual(['PORTT']);
  });

  it('refuses a variable without a comment', () => {
    expect(() => readSchema('export class EnvironmentVariables { PORT = 1; }')).toThrow(
      /PORT has no comment/,
    );
  });
});
