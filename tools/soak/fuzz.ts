// Fuzzes the running service against its own OpenAPI document with
// Schemathesis (every check), authenticated through tools/soak/schemathesis_hooks.py.
//
//   npm run fuzz -- [--max-examples 25] [--seed 20261122 | --seed random] [--dist dist]
//
// Needs the service built (npm run fuzz builds it first). Schemathesis is
// installed from PyPI into .tools/schemathesis-venv on first use. Exits
// non-zero on any failure.
//
// Prints one summary line. Schemathesis' own console output (its pytest-style
// report, whose closing "=== ... in 28.95s ===" banner a CI log reader takes
// for a test runner's), the installer's and the service's errors go to
// .tools/fuzz-report/console.log.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT as PROJECT, serviceEntry, startServiceWithDatabase } from '../lib/service';
import { launchMongo } from '../database/mongo-launcher';

/** Where schemathesis_hooks.py is: the sources, not the compiled tools. */
const HOOKS_DIR = join(PROJECT, 'tools', 'soak');

interface OpenApiDocument {
  paths: Record<string, Record<string, unknown>>;
}

const SCHEMATHESIS_VERSION = '4.32.5';
const VENV = join(PROJECT, '.tools', 'schemathesis-venv');
const REPORT_DIR = join(PROJECT, '.tools', 'fuzz-report');
const CONSOLE_LOG = join(REPORT_DIR, 'console.log');

const { values: args } = parseArgs({
  options: {
    'max-examples': { type: 'string', default: '25' },
    // Fixed by default so CI is reproducible; `--seed random` explores.
    seed: { type: 'string', default: '20261122' },
    dist: { type: 'string' },
  },
});

/** Appends to the console log (created with the report directory). */
function record(text: string): void {
  mkdirSync(REPORT_DIR, { recursive: true });
  appendFileSync(CONSOLE_LOG, text.endsWith('\n') ? text : `${text}\n`);
}

/** Runs a command; its stdout and stderr go to the console log, stdout is also returned. */
function run(
  command: string,
  argv: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; out: string }> {
  return new Promise((done) => {
    const child = spawn(command, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      record(chunk.toString());
    });
    child.stderr.on('data', (chunk: Buffer) => record(chunk.toString()));
    child.on('error', () => done({ code: 127, out }));
    child.on('exit', (code) => done({ code: code ?? 1, out }));
  });
}

/** Check names, case counts and each operation's answers from Schemathesis's NDJSON event stream. */
interface ScenarioFinished {
  recorder?: {
    cases?: Record<string, { value?: { method: string; path: string } }>;
    interactions?: Record<string, { response?: { status_code?: unknown } }>;
  };
}

function summarize(reportFile: string) {
  const checks = new Set<string>();
  /** `METHOD /path` -> status codes received. */
  const answers = new Map<string, Set<number>>();
  let cases = 0;
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(visit);
    if (value === null || typeof value !== 'object') return;
    // ScenarioFinished carries `checks: { <case id>: [{ name, status }] }`.
    const { checks: results } = value as { checks?: unknown };
    if (results !== null && typeof results === 'object') {
      for (const list of Object.values(results)) {
        if (!Array.isArray(list)) continue;
        for (const check of list as ({ name?: string; status?: string } | null)[])
          if (check?.name && check.status !== 'skip') checks.add(check.name);
      }
    }
    for (const child of Object.values(value)) visit(child);
  };
  for (const line of readFileSync(reportFile, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const event = JSON.parse(line) as { ScenarioFinished?: ScenarioFinished };
    visit(event);
    const recorder = event.ScenarioFinished?.recorder;
    if (recorder?.cases) cases += Object.keys(recorder.cases).length;
    for (const [id, interaction] of Object.entries(recorder?.interactions ?? {})) {
      const request = recorder?.cases?.[id]?.value;
      const status = interaction?.response?.status_code;
      if (!request || typeof status !== 'number') continue;
      const operation = `${request.method} ${request.path}`;
      if (!answers.has(operation)) answers.set(operation, new Set());
      answers.get(operation)!.add(status);
    }
  }
  return { checks: [...checks].sort(), cases, answers };
}

/**
 * Documented operations that never answered 2xx: the fuzzer reached only
 * their guards (a missing principal, a role it lacked), never their handlers.
 */
function unreachedOperations(
  document: OpenApiDocument,
  answers: Map<string, Set<number>>,
): string[] {
  const unreached: string[] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of Object.keys(item)) {
      const operation = `${method.toUpperCase()} ${path}`;
      const statuses = [...(answers.get(operation) ?? [])];
      if (!statuses.some((status) => status >= 200 && status < 300)) {
        unreached.push(`${operation} (answers: ${statuses.sort().join(', ') || 'none'})`);
      }
    }
  }
  return unreached;
}

/** Schemathesis from PyPI in a git-ignored venv, installed on first use. */
async function ensureSchemathesis() {
  const st = join(VENV, 'bin', 'st');
  const installed = existsSync(st) && (await run(st, ['--version'], process.env)).out;
  if (installed && installed.includes(SCHEMATHESIS_VERSION)) return st;
  record(`Installing schemathesis==${SCHEMATHESIS_VERSION} into ${VENV}`);
  for (const [command, argv] of <[string, string[]][]>[
    ['python3', ['-m', 'venv', VENV]],
    [
      join(VENV, 'bin', 'pip'),
      [
        'install',
        '--quiet',
        '--disable-pip-version-check',
        `schemathesis==${SCHEMATHESIS_VERSION}`,
      ],
    ],
  ]) {
    const { code } = await run(command, argv, process.env);
    if (code !== 0) throw new Error(`${command} ${argv.join(' ')} failed (exit ${code})`);
  }
  return st;
}

const MOVE_CLUSTER = 'fuzz-2';

async function main() {
  rmSync(REPORT_DIR, { recursive: true, force: true });
  mkdirSync(REPORT_DIR, { recursive: true });
  const st = await ensureSchemathesis();
  // The super admin the hooks use for GET /org/list (operator-only).
  const superadmin = {
    email: `fuzz-operator-${randomBytes(4).toString('hex')}@example.test`,
    password: `fuzz operator ${randomBytes(12).toString('hex')}`,
  };
  // A second database server as a tenant cluster, for POST /org/move.
  const moveCluster = await launchMongo({ kinds: ['ferretdb'], persistent: false, log: record });
  const service = await startServiceWithDatabase({
    entry: args.dist ? serviceEntry(resolve(args.dist)) : undefined,
    cwd: PROJECT,
    log: record,
    env: {
      WEB_CONCURRENCY: '1',
      SUPERADMIN_EMAIL: superadmin.email,
      SUPERADMIN_PASSWORD: superadmin.password,
      TENANT_CLUSTERS: JSON.stringify({ [MOVE_CLUSTER]: moveCluster.uri }),
      // One client address sends everything here; the limits are tested in
      // test/security.e2e-spec.ts, not by making the fuzzer wait.
      RATE_LIMIT_GLOBAL: '1000000/1m',
      RATE_LIMIT_LOGIN: '1000000/1m',
      RATE_LIMIT_CREATE: '1000000/1m',
    },
  });
  let result: { code: number; out: string } | undefined;
  let document: OpenApiDocument;
  try {
    document = (await (await fetch(`${service.url}/docs-json`)).json()) as OpenApiDocument;
    result = await run(
      st,
      [
        'run',
        `${service.url}/docs-json`,
        '--checks',
        'all',
        '--max-examples',
        args['max-examples'],
        ...(args.seed === 'random' ? [] : ['--seed', args.seed]),
        // The service refuses NUL in every string (src/http-hardening/request-hardening.ts,
        // proven for every input position by test/hostile-input.e2e-spec.ts);
        // OpenAPI 3.0 has no way to say so once for all strings, so generating
        // NUL would only re-prove that documented refusal as "schema-valid
        // request rejected".
        '--generation-allow-x00',
        'false',
        '--generation-database',
        'none',
        '--request-timeout',
        '10',
        '--no-color',
        '--report',
        'ndjson',
        '--report-dir',
        REPORT_DIR,
      ],
      {
        ...process.env,
        FUZZ_BASE_URL: service.url,
        FUZZ_SUPERADMIN_EMAIL: superadmin.email,
        FUZZ_SUPERADMIN_PASSWORD: superadmin.password,
        FUZZ_MOVE_CLUSTER: MOVE_CLUSTER,
        PYTHONPATH: HOOKS_DIR,
        SCHEMATHESIS_HOOKS: 'schemathesis_hooks',
      },
    );
  } finally {
    if (result?.code !== 0) {
      // The service's own account of any 5xx, for the failures reported above.
      const errors = service
        .output()
        .split('\n')
        .filter(
          (line) => /"level":"(error|fatal)"|\b(ERROR|FATAL)\b/.test(line) && !/ 503"?/.test(line),
        );
      if (errors.length > 0) record(`\nService errors:\n${errors.slice(-40).join('\n')}`);
    }
    await service.stop();
    await moveCluster.stop();
  }
  const report = readdirSync(REPORT_DIR).find((name) => name.endsWith('.ndjson'));
  const { checks, cases, answers } = report
    ? summarize(join(REPORT_DIR, report))
    : { checks: [], cases: 0, answers: new Map<string, Set<number>>() };
  const unreached = unreachedOperations(document, answers);
  const generated = /(?<!\d)(\d+) generated/.exec(result.out)?.[1] ?? String(cases);
  // Schemathesis's closing line: "=== 2 failures, 1 error, 1 warning in 61.2s ===".
  const closing =
    result.out.split('\n').findLast((line) => /^=+ .* in [\d.]+s =+$/.test(line)) ?? '';
  const count = (what: string) => Number(new RegExp(`(\\d+) ${what}`).exec(closing)?.[1] ?? 0);
  console.log(
    `schemathesis: ${generated} test cases generated, ${count('failure')} failures, ${count('error')} errors, exit ${result.code}; checks run: ${checks.join(', ') || '(none recorded)'}; console output in ${relative(PROJECT, CONSOLE_LOG)}`,
  );
  if (unreached.length === 0) {
    console.log('schemathesis: every documented operation answered 2xx at least once');
  } else {
    console.log(
      `schemathesis: ${unreached.length} operation(s) never answered 2xx, so their handlers were not fuzzed with a valid principal (see tools/soak/schemathesis_hooks.py):\n  ${unreached.join('\n  ')}`,
    );
  }
  process.exitCode = result.code !== 0 ? result.code : unreached.length > 0 ? 1 : 0;
}

main().catch((error: unknown) => {
  record(error instanceof Error ? (error.stack ?? error.message) : String(error));
  console.error(
    `schemathesis: did not run (${error instanceof Error ? error.message : String(error)}); console output in ${relative(PROJECT, CONSOLE_LOG)}`,
  );
  process.exitCode = 1;
});
