// The built service as production runs it, on a fresh database from the
// project's launcher: the shared starter of tools/lib/service.ts (compiled by
// `npm run build:tools`). Shared by the soak and the fuzzer.
'use strict';

const { join, resolve } = require('node:path');
const { PROJECT_ROOT, serviceEntry, startServiceWithDatabase } = require(
  join(__dirname, '..', 'dist-tools', 'lib', 'service.js'),
);

/** @param {{ distDir?: string, env?: Record<string, string> }} options */
async function startService(options = {}) {
  const service = await startServiceWithDatabase({
    entry: options.distDir ? serviceEntry(resolve(options.distDir)) : undefined,
    cwd: PROJECT_ROOT,
    env: options.env,
  });
  return { ...service, base: service.url };
}

module.exports = { startService, PROJECT: PROJECT_ROOT };
