// Builds the Elastic Beanstalk source bundle: `npm run package:eb`.
//
//   release/bundle/                    the bundle unpacked (what Docker copies too)
//   release/org-management-service.zip the bundle to upload
//
// Contents, and nothing else: the compiled service (dist/, no source maps),
// package.json, package-lock.json (EB runs `npm install --production` against it),
// Procfile, .platform/ and .ebextensions/. Never tooling: the database launcher
// and the test harnesses live in tools/, which is compiled apart (dist-tools/).
// The archive is reproducible: same
// sources, same bytes (sorted entries, fixed timestamps and modes). Platform
// hooks (.platform/hooks/**, .platform/confighooks/**) are 0755, because
// Elastic Beanstalk runs only executable hooks; everything else is 0644.
//
// Options: --skip-compile  reuse release/bundle/dist from an earlier run
//          --list          print every file in the archive
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, relative, sep } from 'node:path';
import { findProjectRoot } from '../database/project-root.util';
import { createZip } from './zip';

const root = findProjectRoot(__dirname);
const releaseDir = join(root, 'release');
const bundleDir = join(releaseDir, 'bundle');
const zipPath = join(releaseDir, 'org-management-service.zip');
const args = new Set(process.argv.slice(2));

/** Top-level entries of the bundle; anything else found there is an error. */
const BUNDLE_ROOTS = [
  '.ebextensions',
  '.platform',
  'Procfile',
  'dist',
  'package-lock.json',
  'package.json',
];

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return walk(path);
    if (entry.isFile()) return [path];
    throw new Error(`Not a regular file: ${relative(root, path)}`);
  });
}

if (!args.has('--skip-compile')) {
  rmSync(bundleDir, { recursive: true, force: true });
  // nest build (not plain tsc) so the Swagger plugin shapes the API docs as in dist/.
  execFileSync(
    join(root, 'node_modules', '.bin', 'nest'),
    ['build', '-p', 'tools/eb/tsconfig.bundle.json'],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
} else if (!existsSync(join(bundleDir, 'dist', 'main.js'))) {
  throw new Error('--skip-compile: release/bundle/dist/main.js does not exist yet');
}

for (const name of BUNDLE_ROOTS.filter((n) => n !== 'dist')) {
  rmSync(join(bundleDir, name), { recursive: true, force: true });
  cpSync(join(root, name), join(bundleDir, name), { recursive: true });
}

const unexpected = readdirSync(bundleDir).filter((name) => !BUNDLE_ROOTS.includes(name));
if (unexpected.length > 0)
  throw new Error(`Unexpected entries in the bundle: ${unexpected.join(', ')}`);
const files = walk(bundleDir)
  .map((path) => relative(bundleDir, path).split(sep).join('/'))
  .sort();
const strays = files.filter((f) => f.startsWith('dist/') && !f.endsWith('.js'));
if (strays.length > 0) throw new Error(`Not compiled output: ${strays.join(', ')}`);

/** Files Elastic Beanstalk executes: platform hooks, for deployments and configuration changes. */
const isHook = (name: string) => /^\.platform\/(hooks|confighooks)\/[^/]+\/[^/]+$/.test(name);
const entries = files.map((name) => {
  const data = readFileSync(join(bundleDir, name));
  if (isHook(name) && !data.subarray(0, 2).equals(Buffer.from('#!')))
    throw new Error(`${name}: a platform hook must start with #! (the platform executes it)`);
  return { name, data, mode: isHook(name) ? 0o755 : 0o644 };
});
const zip = createZip(entries);
mkdirSync(releaseDir, { recursive: true });
writeFileSync(zipPath, zip);

const sha256 = createHash('sha256').update(zip).digest('hex');
const unpacked = files.reduce((n, f) => n + statSync(join(bundleDir, f)).size, 0);
const groups = new Map<string, number>();
for (const f of files) {
  const top = f.split('/')[0];
  groups.set(top, (groups.get(top) ?? 0) + 1);
}
console.log(
  `\n${relative(root, zipPath)}: ${files.length} files, ${zip.length} bytes (${unpacked} unpacked)`,
);
console.log(`sha256 ${sha256}`);
for (const [top, count] of groups)
  console.log(`  ${top}${count > 1 || top === 'dist' ? `/ (${count} files)` : ''}`);
if (args.has('--list'))
  for (const { name, mode } of entries) console.log(`    ${mode.toString(8)} ${name}`);
