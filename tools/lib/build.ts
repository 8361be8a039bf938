import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from './service';

/**
 * The one way tests build code they run in a child process: `tsc` on one of
 * the project's tsconfigs, into a private folder under `.tools/build/` (so
 * that it resolves the project's node_modules), into its `subdir`. Returns the
 * folder; the caller removes it.
 *
 * No type check (`npm run typecheck` does it; this takes seconds). Not
 * `dist/` or `dist-tools/`: a test must run the code as it is, not whatever
 * was built last, and must not swap files under a concurrent `npm start`.
 */
export function compileProject(tsconfig: string, name: string, subdir = ''): string {
  const root = join(PROJECT_ROOT, '.tools', 'build');
  mkdirSync(root, { recursive: true });
  const folder = mkdtempSync(join(root, `${name}-`));
  execFileSync(
    process.execPath,
    [
      join(PROJECT_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
      ...['-p', join(PROJECT_ROOT, tsconfig)],
      ...['--outDir', join(folder, subdir)],
      '--noCheck',
      ...['--sourceMap', 'false', '--incremental', 'false', '--tsBuildInfoFile', 'null'],
    ],
    { cwd: PROJECT_ROOT, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  return folder;
}

/**
 * The service compiled from src/ as it is now, for a test that runs the real
 * process: `<folder>/dist/main.js`. tsconfig.build.json as `npm run build`
 * uses it, minus the Swagger plugin (only the API docs need it).
 */
export function buildService(): string {
  const folder = compileProject('tsconfig.build.json', 'service', 'dist');
  copyFileSync(join(PROJECT_ROOT, 'package.json'), join(folder, 'package.json'));
  return folder;
}
