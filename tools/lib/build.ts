import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from './service';

/**
 * The service compiled from src/ as it is now into a private folder under
 * `.tools/build/` (so that it resolves the project's node_modules), for a
 * test that runs the real process: `<folder>/dist/main.js`. Returns the folder;
 * the caller removes it.
 *
 * The same compiler and tsconfig.build.json as `npm run build`, minus the type
 * check (`npm run typecheck` does it; this takes seconds) and the Swagger
 * plugin (only the API docs need it). Not `dist/` itself: a test must run the
 * code as it is, not whatever was last built, and must not swap the files
 * under a concurrent `npm start`.
 */
export function buildService(): string {
  const root = join(PROJECT_ROOT, '.tools', 'build');
  mkdirSync(root, { recursive: true });
  const folder = mkdtempSync(join(root, 'service-'));
  execFileSync(
    process.execPath,
    [
      join(PROJECT_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
      ...['-p', join(PROJECT_ROOT, 'tsconfig.build.json')],
      ...['--outDir', join(folder, 'dist')],
      '--noCheck',
      ...['--sourceMap', 'false', '--incremental', 'false', '--tsBuildInfoFile', 'null'],
    ],
    { cwd: PROJECT_ROOT, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  copyFileSync(join(PROJECT_ROOT, 'package.json'), join(folder, 'package.json'));
  return folder;
}
