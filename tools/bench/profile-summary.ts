/**
 * Summarizes V8 CPU profiles (`node --cpu-prof`, or `npm run bench -- --profile`):
 * self time by package (or node internals / our code) and the hottest
 * functions. Prints Markdown.
 *
 *   node dist-tools/bench/profile-summary.js tools/bench/results/profiles/service [--top 25]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import type { Profiler } from 'node:inspector';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../lib/service';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' } },
});
const ROOT = PROJECT_ROOT;

interface Summary {
  total: number;
  byOwner: Map<string, number>;
  byFunction: Map<string, number>;
}

function profilesIn(path: string): string[] {
  if (statSync(path).isFile()) return [path];
  return readdirSync(path)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(path, f));
}

/** Where a function's code lives: an npm package, our dist/ or dist-tools/ code, Node itself, or V8. */
function ownerOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith('node:')) return 'node internals';
  const file = url.replace(/^file:\/\//, '');
  return relative(ROOT, file).split('/').slice(0, 2).join('/');
}

function summarize(file: string): Summary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profiler.Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  const intervals = profile.timeDeltas ?? [];
  const samples = profile.samples ?? [];
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + (intervals[i] ?? 0));
  }
  const byOwner = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (node === undefined) continue;
    const { callFrame } = node;
    const owner = ownerOf(callFrame.url, callFrame.functionName);
    total += us;
    byOwner.set(owner, (byOwner.get(owner) ?? 0) + us);
    const where = callFrame.url
      ? `${relative(ROOT, callFrame.url.replace(/^file:\/\//, ''))}:${callFrame.lineNumber + 1}`
      : '';
    const key = `${callFrame.functionName || '(anonymous)'} ${where}`.trim();
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  }
  return { total, byOwner, byFunction };
}

function table(map: Map<string, number>, total: number, top: number): string {
  const rows = [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  return [
    '| self time | share | where |',
    '| ---: | ---: | --- |',
    ...rows.map(
      ([key, us]) =>
        `| ${(us / 1000).toFixed(0)} ms | ${((100 * us) / total).toFixed(1)}% | ${key.replace(/\|/g, '\\|')} |`,
    ),
  ].join('\n');
}

function main(): void {
  const top = Number(args.top);
  for (const path of positionals) {
    const total: Summary = { total: 0, byOwner: new Map(), byFunction: new Map() };
    for (const file of profilesIn(path)) {
      const s = summarize(file);
      total.total += s.total;
      for (const [k, v] of s.byOwner) total.byOwner.set(k, (total.byOwner.get(k) ?? 0) + v);
      for (const [k, v] of s.byFunction)
        total.byFunction.set(k, (total.byFunction.get(k) ?? 0) + v);
    }
    console.log(
      `### ${relative(ROOT, path) || path}: ${(total.total / 1000).toFixed(0)} ms sampled\n`,
    );
    console.log('By package:\n');
    console.log(table(total.byOwner, total.total, top));
    console.log('\nHottest functions:\n');
    console.log(table(total.byFunction, total.total, top));
    console.log('');
  }
}

main();
