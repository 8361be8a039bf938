/** Medians, ratios against the targets, and the BENCHMARKS.md table. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { HttpRun } from './load';
import type { BenchResults, CommandCount } from './results';

/** One line of the table; `met` is true, false, or undefined where no target is set. */
export interface Row {
  scenario: string;
  metric: string;
  service: string;
  baseline?: string;
  ratio?: number;
  ratioLabel?: string;
  target?: string;
  met?: boolean;
}

const START = '<!-- bench:results:start -->';
const END = '<!-- bench:results:end -->';

export function median(values: readonly (number | undefined)[]): number | undefined {
  const sorted = values
    .filter((v): v is number => typeof v === 'number' && Number.isFinite(v))
    .sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

type Numeric<T> = { [K in keyof T]-?: T[K] extends number | undefined ? K : never }[keyof T];

function pick<T extends object>(runs: readonly T[], key: Numeric<T>): number | undefined {
  return median(runs.map((run) => run[key] as number | undefined));
}

export function fmt(value: number | undefined, digits = 0): string {
  if (value === undefined || Number.isNaN(value)) return 'n/a';
  return value.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}
export const mb = (bytes: number | undefined): string =>
  bytes === undefined ? 'n/a' : `${fmt(bytes / (1024 * 1024), 0)} MB`;
/** Process plus database CPU per request; undefined while the process's is unknown. */
const cpuWithDb = (run: {
  cpuUsPerRequest: number | undefined;
  dbCpuUsPerRequest: number | undefined;
}): number | undefined =>
  run.cpuUsPerRequest === undefined
    ? undefined
    : run.cpuUsPerRequest + (run.dbCpuUsPerRequest ?? 0);
const per = (value: number | undefined, unit: number): number | undefined =>
  value === undefined ? undefined : value / unit;
export const ratio = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined || b === undefined || b === 0 ? undefined : a / b;

/**
 * The median over rounds of each round's own ratio. A round's two runs are
 * back to back, so load from other processes hits both alike; the ratio of
 * the two medians would mix rounds measured under different loads.
 */
export function pairedRatio<A extends object, B extends object>(
  a: readonly A[],
  b: readonly B[],
  keyA: Numeric<A>,
  keyB: Numeric<B> = keyA as unknown as Numeric<B>,
): number | undefined {
  return median(
    a.map((run, i) => {
      const other = b[i];
      return other === undefined
        ? undefined
        : ratio(run[keyA] as number | undefined, other[keyB] as number | undefined);
    }),
  );
}

/**
 * Turns the raw rounds into rows: { scenario, metric, service, baseline, ratio, target, met }.
 * `met` is true, false, or undefined where the issue sets no target.
 */
export function summarize(results: BenchResults): Row[] {
  const rows: Row[] = [];
  for (const scenario of results.http) {
    const s = scenario.runs.service;
    const b = scenario.runs.baseline;
    const { minRps, maxCpu, maxCommands } = scenario.targets;
    const rps = pairedRatio(s, b, 'rps');
    const cpu = pairedRatio(s, b, 'cpuUsPerRequest');
    rows.push({
      scenario: scenario.title,
      metric: 'req/s',
      service: fmt(pick(s, 'rps')),
      baseline: fmt(pick(b, 'rps')),
      ratio: rps,
      ...atLeast(rps, minRps),
    });
    rows.push({
      scenario: '',
      metric: 'p50 / p99 latency (ms)',
      service: `${fmt(pick(s, 'p50'), 1)} / ${fmt(pick(s, 'p99'), 1)}`,
      baseline: `${fmt(pick(b, 'p50'), 1)} / ${fmt(pick(b, 'p99'), 1)}`,
      ratio: pairedRatio(s, b, 'p99'),
      ratioLabel: 'p99',
    });
    rows.push({
      scenario: '',
      metric: 'server CPU per request (µs), peak RSS',
      service: `${fmt(pick(s, 'cpuUsPerRequest'))}, ${mb(pick(s, 'peakRss'))}`,
      baseline: `${fmt(pick(b, 'cpuUsPerRequest'))}, ${mb(pick(b, 'peakRss'))}`,
      ratio: cpu,
      ratioLabel: 'CPU',
      ...atMost(cpu, maxCpu),
    });
    if (scenario.commands) rows.push(commandRow(scenario.commands, maxCommands));
    // Throughput if CPU (this process and the database together) were the
    // only limit: steadier than req/s while other processes share the cores.
    const capacity = median(
      s.map((run, i) => {
        const other = b[i];
        return ratio(other === undefined ? undefined : cpuWithDb(other), cpuWithDb(run));
      }),
    );
    if ((pick(b, 'dbCpuUsPerRequest') ?? 0) > 1) {
      rows.push({
        scenario: '',
        metric: 'database CPU per request (µs)',
        service: fmt(pick(s, 'dbCpuUsPerRequest')),
        baseline: fmt(pick(b, 'dbCpuUsPerRequest')),
        ratio: pairedRatio(s, b, 'dbCpuUsPerRequest'),
        ratioLabel: 'CPU',
      });
    }
    rows.push({
      scenario: '',
      metric: 'capacity from CPU per request (process + database)',
      service: '',
      baseline: '',
      ratio: capacity,
      ratioLabel: 'capacity',
    });
    rows.push({
      scenario: '',
      metric: 'errors (all rounds)',
      service: fmt(s.reduce((n, r) => n + r.errors, 0)),
      baseline: fmt(b.reduce((n, r) => n + r.errors, 0)),
    });
  }
  if (results.login) {
    const { service, baseline, raw, commands } = results.login;
    const vsRaw = pairedRatio(service, raw, 'rps', 'rate');
    rows.push({
      scenario: `4. POST /admin/login, bcrypt cost ${results.login.cost}`,
      metric: 'logins/s vs raw bcrypt.compare/s',
      service: fmt(pick(service, 'rps'), 2),
      baseline: `${fmt(pick(raw, 'rate'), 2)} (raw compare)`,
      ratio: vsRaw,
      target: '≥ 0.9',
      met: vsRaw === undefined ? undefined : vsRaw >= 0.9,
    });
    // What the rates would be with the CPU to themselves: the share of each
    // login's CPU (process and database) that is the compare itself.
    const capacity = median(
      service.map((run, i) => {
        const compare = raw[i]?.cpuMsPerCompare;
        return compare ? ratio(compare * 1000, cpuWithDb(run)) : undefined;
      }),
    );
    rows.push({
      scenario: '',
      metric: 'CPU per login (process + database) vs per raw compare, ms',
      service: fmt(per(median(service.map(cpuWithDb)), 1000), 1),
      baseline: `${fmt(pick(raw, 'cpuMsPerCompare'), 1)} (raw compare)`,
      ratio: capacity,
      ratioLabel: 'capacity',
      target: '≥ 0.9',
      met: capacity === undefined ? undefined : capacity >= 0.9,
    });
    if (commands) rows.push(commandRow(commands));
    rows.push({
      scenario: '',
      metric: 'logins/s vs baseline login',
      service: fmt(pick(service, 'rps'), 2),
      baseline: fmt(pick(baseline, 'rps'), 2),
      ratio: pairedRatio(service, baseline, 'rps'),
    });
    rows.push({
      scenario: '',
      metric: 'p50 / p99 latency (ms)',
      service: `${fmt(pick(service, 'p50'))} / ${fmt(pick(service, 'p99'))}`,
      baseline: `${fmt(pick(baseline, 'p50'))} / ${fmt(pick(baseline, 'p99'))}`,
      ratio: pairedRatio(service, baseline, 'p99'),
      ratioLabel: 'p99',
    });
    rows.push({
      scenario: '',
      metric: 'errors (all rounds)',
      service: fmt(service.reduce((n, r) => n + r.errors, 0)),
      baseline: fmt(baseline.reduce((n, r) => n + r.errors, 0)),
    });
  }
  if (results.rename) {
    const { service, baseline, documents } = results.rename;
    const r = pairedRatio(service, baseline, 'docsPerSec');
    rows.push({
      scenario: `5. Rename, ${fmt(documents)} documents in ${results.rename.collections} collections`,
      metric: 'documents/s (copy + verify + drop)',
      service: fmt(pick(service, 'docsPerSec')),
      baseline: `${fmt(pick(baseline, 'docsPerSec'))} (raw driver)`,
      ratio: r,
      target: '≥ 0.5',
      met: r === undefined ? undefined : r >= 0.5,
    });
    rows.push({
      scenario: '',
      metric: 'CPU seconds per move: Node / database',
      service: `${fmt(per(pick(service, 'nodeCpuMs'), 1000), 1)} / ${fmt(per(pick(service, 'dbCpuMs'), 1000), 1)}`,
      baseline: `${fmt(per(pick(baseline, 'nodeCpuMs'), 1000), 1)} / ${fmt(per(pick(baseline, 'dbCpuMs'), 1000), 1)}`,
    });
    rows.push({
      scenario: '',
      metric: 'seconds per move',
      service: fmt(pick(service, 'seconds'), 1),
      baseline: fmt(pick(baseline, 'seconds'), 1),
      ratio: pairedRatio(service, baseline, 'seconds'),
      ratioLabel: 'time',
    });
  }
  if (results.startup) {
    const { service, baseline } = results.startup;
    const ready = pairedRatio(service, baseline, 'readyMs');
    const idleRss = pick(service, 'idleRss');
    rows.push({
      scenario: '6. Start-up (one process)',
      metric: 'spawn to ready (ms)',
      service: fmt(pick(service, 'readyMs')),
      baseline: fmt(pick(baseline, 'readyMs')),
      ratio: ready,
      ratioLabel: 'time',
      ...atMost(ready, 1.5),
    });
    rows.push({
      scenario: '',
      metric: 'RSS at idle, per worker',
      service: mb(idleRss),
      baseline: mb(pick(baseline, 'idleRss')),
      ratio: pairedRatio(service, baseline, 'idleRss'),
      ratioLabel: 'RSS',
      target: '≤ 100 MB',
      met: idleRss === undefined ? undefined : idleRss <= 100 * MB,
    });
  }
  if (results.scaling) {
    const { scenarios, workerIdleRss, primaryIdleRss } = results.scaling;
    for (const [index, scenario] of scenarios.entries()) {
      rows.push({
        scenario: index === 0 ? '7. Workers: WEB_CONCURRENCY=2 vs 1 (service)' : '',
        metric: `${scenario.title}: req/s`,
        service: `${fmt(pick(scenario.two, 'rps'))} with 2`,
        baseline: `${fmt(pick(scenario.one, 'rps'))} with 1`,
        ratio: pairedRatio(scenario.two, scenario.one, 'rps'),
        ratioLabel: 'scaling',
      });
      rows.push({
        scenario: '',
        metric: `${scenario.title}: CPU per request (µs, all processes)`,
        service: fmt(pick(scenario.two, 'cpuUsPerRequest')),
        baseline: fmt(pick(scenario.one, 'cpuUsPerRequest')),
        ratio: pairedRatio(scenario.two, scenario.one, 'cpuUsPerRequest'),
        ratioLabel: 'CPU',
      });
    }
    const largest = workerIdleRss.length > 0 ? Math.max(...workerIdleRss) : undefined;
    rows.push({
      scenario: '',
      metric: 'RSS at idle with 2 workers: each worker / the primary',
      service: `${workerIdleRss.map(mb).join(', ')} / ${mb(primaryIdleRss)}`,
      baseline: '',
      target: '≤ 100 MB',
      met: largest === undefined ? undefined : largest <= 100 * MB,
    });
  }
  if (results.tenants) {
    const bounded = results.tenants.bounded;
    const unbounded = results.tenants.unbounded;
    rows.push({
      scenario: `Tenants: ${fmt(bounded.tenants)} distinct through TenantConnectionFactory`,
      metric: `heap growth after GC, TENANT_CACHE_SIZE=${fmt(bounded.cacheSize)}`,
      service: `${fmt(bounded.heapGrowthMB, 1)} MB (${fmt(bounded.handlesKept)} handles kept)`,
      baseline: unbounded
        ? `${fmt(unbounded.heapGrowthMB, 1)} MB with ${fmt(unbounded.cacheSize)} (${fmt(unbounded.handlesKept)} kept)`
        : '',
      target: '< 50 MB',
      met: bounded.heapGrowthMB < 50,
    });
    rows.push({
      scenario: '',
      metric: `pool connections open at most (${fmt(bounded.queries)} queries)`,
      service: fmt(bounded.connectionsMaxOpen),
      baseline: `maxPoolSize ${bounded.maxPoolSize}`,
      target: '≤ pool',
      met: bounded.connectionsMaxOpen <= bounded.maxPoolSize,
    });
  }
  if (results.jwt) {
    const timings = Object.entries(results.jwt.microsecondsPerVerify);
    const [fastest] = [...timings].sort((a, b) => a[1] - b[1]);
    for (const [index, [name, us]] of timings.entries()) {
      rows.push({
        scenario: index === 0 ? 'JWT verify, one HS256 token (µs per call)' : '',
        metric: name,
        service: fmt(us, 1),
        baseline: index === 0 ? `fastest: ${fastest[0]}` : '',
        ratio: us / fastest[1],
        ratioLabel: 'vs fastest',
      });
    }
  }
  return rows;
}

const MB = 1024 * 1024;

/** `target` and `met` for a ratio that must be at least `bound` (nothing without a bound). */
function atLeast(value: number | undefined, bound: number | undefined): Partial<Row> {
  if (bound === undefined) return {};
  return { target: `≥ ${bound}`, met: value === undefined ? undefined : value >= bound };
}

function atMost(value: number | undefined, bound: number | undefined): Partial<Row> {
  if (bound === undefined) return {};
  return { target: `≤ ${bound}`, met: value === undefined ? undefined : value <= bound };
}

/** "3 (find 3)": commands per request and which, from the counting pass. */
function describeCommands(count: CommandCount | undefined): string {
  if (count === undefined) return 'n/a';
  const names = Object.entries(count.byName)
    .sort((a, b) => b[1] - a[1])
    .map(([name, n]) => `${name} ${fmt(n / count.requests, n % count.requests === 0 ? 0 : 1)}`);
  return `${fmt(count.perRequest, Number.isInteger(count.perRequest) ? 0 : 2)} (${names.join(', ') || 'none'})`;
}

function commandRow(
  commands: Record<'service' | 'baseline', CommandCount>,
  maxCommands?: number,
): Row {
  const perRequest = commands.service.perRequest;
  return {
    scenario: '',
    metric: 'database commands per request',
    service: describeCommands(commands.service),
    baseline: describeCommands(commands.baseline),
    ratio: ratio(perRequest, commands.baseline.perRequest),
    ratioLabel: 'commands',
    ...(maxCommands === undefined
      ? {}
      : { target: `≤ ${maxCommands}`, met: perRequest <= maxCommands }),
  };
}

function renderTable(rows: readonly Row[]): string {
  const lines = [
    '| Scenario | Metric | Service | Baseline | Ratio | Target | Met |',
    '| --- | --- | ---: | ---: | ---: | --- | --- |',
  ];
  for (const row of rows) {
    const r =
      row.ratio === undefined
        ? ''
        : `${row.ratioLabel ? row.ratioLabel + ' ' : ''}${row.ratio.toFixed(2)}×`;
    const met = row.met === undefined ? '' : row.met ? 'yes' : '**no**';
    lines.push(
      `| ${row.scenario} | ${row.metric} | ${row.service} | ${row.baseline ?? ''} | ${r} | ${row.target ?? ''} | ${met} |`,
    );
  }
  return lines.join('\n');
}

function renderRounds(results: BenchResults): string {
  const lines = ['Per round (service / baseline), in run order:', ''];
  for (const scenario of results.http) {
    const fmtRun = (run: HttpRun | undefined) =>
      `${fmt(run?.rps)} req/s p99 ${fmt(run?.p99, 1)} ms`;
    const rounds = scenario.runs.service.map(
      (run, i) => `${fmtRun(run)} / ${fmtRun(scenario.runs.baseline[i])}`,
    );
    lines.push(`- ${scenario.title}: ${rounds.join('; ')}`);
  }
  if (results.login) {
    const { service, baseline, raw } = results.login;
    const rounds = service.map(
      (run, i) => `${fmt(run.rps, 2)} / ${fmt(baseline[i]?.rps, 2)} / raw ${fmt(raw[i]?.rate, 2)}`,
    );
    lines.push(`- Login (logins/s): ${rounds.join('; ')}`);
  }
  if (results.rename) {
    const { service, baseline } = results.rename;
    const rounds = service.map(
      (run, i) => `${fmt(run.docsPerSec)} / ${fmt(baseline[i]?.docsPerSec)} docs/s`,
    );
    lines.push(`- Rename: ${rounds.join('; ')}`);
  }
  if (results.startup) {
    const { service, baseline } = results.startup;
    const rounds = service.map(
      (run, i) =>
        `${fmt(run.readyMs)} ms, ${mb(run.idleRss)} / ${fmt(baseline[i]?.readyMs)} ms, ${mb(baseline[i]?.idleRss)}`,
    );
    lines.push(`- Start-up: ${rounds.join('; ')}`);
  }
  for (const scenario of results.scaling?.scenarios ?? []) {
    const rounds = scenario.two.map(
      (run, i) => `${fmt(run.rps)} / ${fmt(scenario.one[i]?.rps)} req/s`,
    );
    lines.push(`- Workers, ${scenario.title} (2 / 1): ${rounds.join('; ')}`);
  }
  return lines.join('\n');
}

export function renderSection(results: BenchResults, rows: readonly Row[]): string {
  const env = results.environment!;
  return [
    START,
    `Run ${env.date} on ${env.cpu} (${env.cores} cores, ${env.memoryGiB} GiB), ${env.platform}, Node ${env.node}, ` +
      `database: ${env.database}. Load average when the run started: ${env.loadAverage}. ` +
      `Mode: ${env.mode} (${env.settings}). Total time ${fmt(env.totalSeconds)} s.`,
    '',
    renderTable(rows),
    '',
    renderRounds(results),
    END,
  ].join('\n');
}

/** Replaces the generated section of `file`, keeping everything written by hand around it. */
export function writeReport(file: string, section: string, intro: string): void {
  let text = existsSync(file) ? readFileSync(file, 'utf8') : `${intro}\n\n${START}\n${END}\n`;
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  text =
    start >= 0 && end > start
      ? text.slice(0, start) + section + text.slice(end + END.length)
      : `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, text);
}

export function printRatios(rows: readonly Row[]): void {
  const lines = ['', 'Ratios (service ÷ baseline, same run, median of the rounds):'];
  let scenario = '';
  for (const row of rows) {
    if (row.scenario) scenario = row.scenario;
    if (row.ratio === undefined && row.met === undefined) continue;
    const r = row.ratio === undefined ? '' : `${row.ratio.toFixed(2)}×`;
    const verdict =
      row.met === undefined ? '' : row.met ? `meets ${row.target}` : `MISSES ${row.target}`;
    const values = row.service === '' ? '' : `${row.service} vs ${row.baseline} `;
    lines.push(`  ${scenario} | ${row.metric}: ${values}${r} ${verdict}`.trimEnd());
  }
  console.log(lines.join('\n'));
}
