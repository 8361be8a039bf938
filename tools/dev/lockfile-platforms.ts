// Adds the package-lock.json entries of optional, platform-specific packages
// (e.g. @swc/core-darwin-arm64) that npm left out because the registry mirror
// it used does not carry them. Without those entries `npm ci` refuses the lock
// ("Missing: <pkg>@ from lock file") on every machine; with them, npm skips the
// packages for other platforms without fetching them, and later `npm install`
// runs keep the entries. Run it after adding a dependency if `npm ci` says so:
//
//   npm run build:tools && node dist-tools/dev/lockfile-platforms.js [package-lock.json]
import { readFileSync, writeFileSync } from 'node:fs';

interface LockPackage {
  version?: string;
  dev?: boolean;
  optional?: boolean;
  cpu?: string[];
  os?: string[];
  libc?: string[];
  optionalDependencies?: Record<string, string>;
}

const file = process.argv[2] ?? 'package-lock.json';
const lock = JSON.parse(readFileSync(file, 'utf8')) as { packages: Record<string, LockPackage> };
const PLATFORM =
  /-(android|darwin|freebsd|linux|win32|openharmony|sunos|aix|netbsd|openbsd)-(arm64|x64|ia32|arm|ppc64|s390x|loong64|riscv64)(?:-(gnu|musl|msvc|gnueabihf|musleabihf|eabi))?$/;

const added: string[] = [];
for (const [path, pkg] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(pkg.optionalDependencies ?? {})) {
    const nested = `${path === '' ? '' : `${path}/`}node_modules/${name}`;
    if (lock.packages[nested] || lock.packages[`node_modules/${name}`]) continue;
    const match = PLATFORM.exec(name);
    if (!match) {
      console.error(`skipped ${name}: cannot tell its platform from the name`);
      continue;
    }
    const [, os, cpu, abi] = match;
    const entry: LockPackage = { version, cpu: [cpu] };
    if (pkg.dev) entry.dev = true;
    if (abi === 'gnu' || abi === 'gnueabihf') entry.libc = ['glibc'];
    if (abi === 'musl' || abi === 'musleabihf') entry.libc = ['musl'];
    entry.optional = true;
    entry.os = [os];
    lock.packages[`node_modules/${name}`] = entry;
    added.push(`${name}@${version}`);
  }
}
// npm keeps `packages` sorted by path.
const [rootEntry, ...rest] = Object.entries(lock.packages);
lock.packages = Object.fromEntries([
  rootEntry,
  ...rest.sort(([a], [b]) => a.localeCompare(b, 'en')),
]);
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(added.length ? `added ${added.length}: ${added.join(', ')}` : 'nothing to add');
