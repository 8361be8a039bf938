/**
 * One source of truth for the environment variables: the validation schema,
 * src/config/env.validation.ts. This tool reads it (statically, with the
 * TypeScript compiler: name, default, comment) and
 *
 * - `--write`: rewrites README.md's configuration table and .env.example;
 * - `--check` (CI): fails when either differs from what `--write` would
 *   write, or when DEPLOYMENT.md's table names a variable the schema lacks.
 *
 * `npm run env:docs` is the `--write` run.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ts from 'typescript';

const ROOT = join(__dirname, '..', '..');
const SCHEMA = 'src/config/env.validation.ts';
const SCHEMA_CLASS = 'EnvironmentVariables';
const README_BEGIN = '<!-- env-vars:begin (npm run env:docs writes this table) -->';
const README_END = '<!-- env-vars:end -->';
const DEPLOYMENT_SECTION = '## Environment variables';

export interface EnvVariable {
  name: string;
  /** The literal default, or undefined when the schema has none. */
  value: string | undefined;
  /** `@default`: how to describe a default that is not a literal. */
  defaultText: string | undefined;
  /** `@example`: the value of the commented-out line in .env.example. */
  example: string | undefined;
  /** The comment's paragraphs, each as its source lines. */
  paragraphs: string[][];
}

function literalValue(node: ts.Expression | undefined): string | undefined {
  if (node === undefined) return undefined;
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
  if (ts.isNumericLiteral(node)) return String(Number(node.text));
  throw new Error(`${SCHEMA}: a default must be a string or number literal, got ${node.getText()}`);
}

/** The variables of the schema class, in declaration order. */
export function readSchema(source: string): EnvVariable[] {
  const file = ts.createSourceFile(SCHEMA, source, ts.ScriptTarget.ES2023, true);
  const schema = file.statements.find(
    (s): s is ts.ClassDeclaration => ts.isClassDeclaration(s) && s.name?.text === SCHEMA_CLASS,
  );
  if (!schema) throw new Error(`${SCHEMA}: no class ${SCHEMA_CLASS}`);
  return schema.members.filter(ts.isPropertyDeclaration).map((property) => {
    const name = property.name.getText();
    const docs = ts.getJSDocCommentsAndTags(property).filter(ts.isJSDoc);
    const doc = docs[docs.length - 1];
    const comment = ts.getTextOfJSDocComment(doc?.comment)?.trim();
    if (!comment) throw new Error(`${SCHEMA}: ${name} has no comment to document it with`);
    const tag = (tagName: string) =>
      ts.getTextOfJSDocComment(doc.tags?.find((t) => t.tagName.text === tagName)?.comment)?.trim();
    const value = literalValue(property.initializer);
    const defaultText = tag('default');
    if (value === undefined && defaultText === undefined) {
      throw new Error(`${SCHEMA}: ${name} has neither a default value nor a @default tag`);
    }
    return {
      name,
      value,
      defaultText,
      example: tag('example'),
      paragraphs: comment.split(/\n\s*\n/).map((p) => p.split('\n').map((line) => line.trim())),
    };
  });
}

const escapeCell = (text: string) => text.replace(/\|/g, '\\|');

/** README.md's table, before Prettier aligns it. */
export function readmeTable(variables: EnvVariable[]): string {
  const rows = variables.map((v) => {
    const shown = v.defaultText ?? (v.value === '' ? '(none)' : `\`${v.value}\``);
    return `| \`${v.name}\` | ${escapeCell(shown)} | ${escapeCell(v.paragraphs[0].join(' '))} |`;
  });
  return ['| Variable | Default | Meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

const ENV_EXAMPLE_HEADER = [
  '# Copy to .env for local development (never commit .env). Every variable is',
  '# optional in development; production needs MONGODB_URI and JWT_SECRET.',
  '# Variables set in the environment win over this file.',
  '#',
  '# Written by `npm run env:docs` from src/config/env.validation.ts: edit that.',
];

/** `**bold**` and `code` marks read as noise in a shell-style comment. */
const plain = (line: string) => line.replace(/\*\*|`/g, '');

export function envExample(variables: EnvVariable[]): string {
  const blocks = variables.map((v) => {
    const comment = v.paragraphs.flat().map((line) => `# ${plain(line)}`.trimEnd());
    const assignment =
      v.value === undefined ? `# ${v.name}=${v.example ?? ''}` : `${v.name}=${v.value}`;
    return [...comment, assignment].join('\n');
  });
  return `${[ENV_EXAMPLE_HEADER.join('\n'), ...blocks].join('\n\n')}\n`;
}

async function formatMarkdown(text: string, file: string): Promise<string> {
  // Loaded on use: Prettier's own lazy imports need a real ES module loader, which Jest is not.
  const prettier = await import('prettier');
  const options = (await prettier.resolveConfig(file)) ?? {};
  return prettier.format(text, { ...options, filepath: file });
}

export async function renderReadme(readme: string, variables: EnvVariable[]): Promise<string> {
  const begin = readme.indexOf(README_BEGIN);
  const end = readme.indexOf(README_END);
  if (begin < 0 || end < begin) {
    throw new Error(`README.md: the table must sit between ${README_BEGIN} and ${README_END}`);
  }
  const table = readmeTable(variables);
  const replaced = `${readme.slice(0, begin + README_BEGIN.length)}\n\n${table}\n\n${readme.slice(end)}`;
  return formatMarkdown(replaced, join(ROOT, 'README.md'));
}

/** Names in the first column of DEPLOYMENT.md's environment table that the schema lacks. */
export function unknownInDeployment(deployment: string, variables: EnvVariable[]): string[] {
  const start = deployment.indexOf(DEPLOYMENT_SECTION);
  if (start < 0) throw new Error(`DEPLOYMENT.md: no "${DEPLOYMENT_SECTION}" section`);
  const next = deployment.indexOf('\n## ', start + DEPLOYMENT_SECTION.length);
  const section = deployment.slice(start, next < 0 ? undefined : next);
  const known = new Set(variables.map((v) => v.name));
  const named = section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .flatMap((line) => [...line.split('|')[1].matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1]));
  if (named.length === 0) throw new Error('DEPLOYMENT.md: its environment table names no variable');
  return named.filter((name) => !known.has(name));
}

async function main(): Promise<void> {
  const mode = process.argv[2];
  if (mode !== '--check' && mode !== '--write') {
    console.error('usage: env-docs --check | --write');
    process.exit(2);
  }
  const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
  const variables = readSchema(read(SCHEMA));
  const wanted = new Map([
    ['README.md', await renderReadme(read('README.md'), variables)],
    ['.env.example', envExample(variables)],
  ]);
  const problems: string[] = [];
  for (const [file, text] of wanted) {
    if (read(file) === text) continue;
    if (mode === '--write') {
      writeFileSync(join(ROOT, file), text);
      console.log(`env-docs: wrote ${file}`);
    } else {
      problems.push(`${file} does not match ${SCHEMA}: run npm run env:docs`);
    }
  }
  for (const name of unknownInDeployment(read('DEPLOYMENT.md'), variables)) {
    problems.push(`DEPLOYMENT.md names ${name}, which ${SCHEMA} does not define`);
  }
  for (const problem of problems) console.error(`env-docs: ${problem}`);
  if (problems.length > 0) process.exit(1);
  console.log(
    `env-docs: ${variables.length} variables; README.md, .env.example and DEPLOYMENT.md agree`,
  );
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
