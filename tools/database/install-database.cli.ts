/**
 * `npm run db:install`: makes sure FerretDB is built into `<project>/.tools/bin`,
 * so that dev, tests and benchmarks have a database without mongod or internet.
 * `--force` rebuilds even when the right version is already there.
 */
import { relative } from 'node:path';
import { FERRETDB_VERSION, installFerretDb } from './ferretdb.installer';
import { findProjectRoot } from './project-root.util';

async function main(): Promise<void> {
  const projectRoot = findProjectRoot();
  const result = await installFerretDb({
    projectRoot,
    force: process.argv.includes('--force'),
    log: (message) => console.log(message),
  });
  const where = relative(projectRoot, result.binaryPath);
  console.log(
    result.action === 'built'
      ? `FerretDB ${result.version} installed at ${where} (${(result.durationMs / 1000).toFixed(1)} s).`
      : `FerretDB ${result.version} already installed at ${where}; nothing to do.`,
  );
}

main().catch((error: unknown) => {
  console.error(
    `Could not install FerretDB ${FERRETDB_VERSION}: ${error instanceof Error ? error.message : String(error)}`,
  );
  process.exitCode = 1;
});
