// The service compiled as it is now, for suites that run the real process:
// one build path for tests and tools (tools/lib/build.ts).
export { buildService as compileService } from '../../tools/lib/build';
export { PROJECT_ROOT as PROJECT } from '../../tools/lib/service';
