/**
 * Which way dependencies may point (run by `npm run lint`).
 *
 * Foundation, lowest first: `common/` (errors, problem+json, pipes,
 * decorators) imports nothing else of the service; `config/` only `common/`;
 * `database/` only those two. Every other folder is a feature or an edge
 * (auth, admins, organizations, members, team, audit, idempotency,
 * rate-limit, http-hardening, health, docs, logging, migrations, bootstrap)
 * and may use the foundation, never the reverse. Only the entry points
 * (main.ts, bootstrap/, the *.cli.ts commands) compose the application.
 */
const FOUNDATION = 'src/(common|config|database)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import cycle: split the shared part out, or invert one dependency.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'common-imports-no-other-folder',
      severity: 'error',
      comment:
        'common/ is the bottom layer: everything may use it, it uses nothing of the service.',
      from: { path: '^src/common/' },
      to: { path: '^src/', pathNot: '^src/common/' },
    },
    {
      name: 'config-imports-only-common',
      severity: 'error',
      comment:
        'config/ is read by every module; it may use common/ and nothing else of the service.',
      from: { path: '^src/config/' },
      to: { path: '^src/', pathNot: '^src/(config|common)/' },
    },
    {
      name: 'database-imports-only-foundation',
      severity: 'error',
      comment: 'database/ serves every feature; it may use common/ and config/, no feature module.',
      from: { path: '^src/database/' },
      to: { path: '^src/', pathNot: `^${FOUNDATION}` },
    },
    {
      name: 'only-the-entry-point-composes-the-app',
      severity: 'error',
      comment:
        'AppModule and the app setup are the top: a module that imports them closes a cycle.',
      from: { path: '^src/', pathNot: ['^src/(main\\.ts$|bootstrap/|app\\.)', '\\.cli\\.ts$'] },
      to: { path: '^src/app\\.(module|setup)\\.ts$' },
    },
    {
      name: 'src-imports-no-tooling-or-tests',
      severity: 'error',
      comment:
        'src/ is what runs in production: tools/ (the benchmark included) and test/ are not shipped.',
      from: { path: '^src/' },
      to: { path: '^(tools|test)/' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that resolves to nothing.',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports count: they couple folders as much as value imports.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.json'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
