'use strict';
/**
 * Summarizes V8 CPU profiles (`node --cpu-prof`, or `npm run bench -- --profile`):
 * self time by package (or node internals / our code) and the hottest
 * functions. Prints Markdown.
 *
 *   node bench/profile-summary.js bench/results/profiles/service [--top 25]
 */
const { readdirSync, readFileSync, statSync } = require('node:fs');
const { join, relative } = require('node:path');
const { parseArgs } = require('node:util');

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' } },
});
const ROOT = join(__dirname, '..');

function profilesIn(path) {
  if (statSync(path).isFile()) return [path];
  return readdirSync(path)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(path, f));
}

/** Where a function's code lives: an npm package, our dist/ or bench/ code, Node itself, or V8. */
function ownerOf(url, functionName) {
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

function summarize(file) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map();
  const intervals = profile.timeDeltas;
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + (intervals[i] ?? 0));
  }
  const byOwner = new Map();
  const byFunction = new Map();
  let total = 0;
  for (const [id, us] of selfUs) {
    const { callFrame } = byId.get(id);
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

function table(map, total, top) {
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

function main() {
  const top = Number(args.top);
  for (const path of positionals) {
    const total = { total: 0, byOwner: new Map(), byFunction: new Map() };
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
