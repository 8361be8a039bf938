import { execFile, spawn } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LauncherLog } from './launcher.types';
import { findExecutable, isExecutableFile, isPidAlive } from './managed-process.util';
import { findProjectRoot, toolsDir } from './project-root.util';

/**
 * Pinned because 1.x is the last line with the embedded SQLite backend
 * (2.x needs PostgreSQL with DocumentDB), which is what makes FerretDB a
 * zero-setup stand-in for mongod here.
 */
export const FERRETDB_VERSION = 'v1.24.2';
export const FERRETDB_MODULE = 'github.com/FerretDB/FerretDB';

const exe = process.platform === 'win32' ? '.exe' : '';

/** `<project>/.tools/bin/ferretdb`: where {@link installFerretDb} puts the binary. */
export const ferretDbToolPath = (projectRoot: string): string =>
  join(toolsDir(projectRoot), 'bin', `ferretdb${exe}`);

/** The version a FerretDB binary reports (`version: v1.24.2`), or undefined if it does not run. */
export function readFerretDbVersion(binary: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(binary, ['--version'], { timeout: 10_000, windowsHide: true }, (error, stdout) => {
      if (error !== null) return resolve(undefined);
      resolve(/^version:\s*(\S+)/m.exec(stdout)?.[1]);
    });
  });
}

/** Only 1.x has the `sqlite` handler the launcher relies on. */
export const hasSqliteBackend = (version: string | undefined): boolean =>
  version?.startsWith('v1.') === true;

/**
 * A usable FerretDB binary: `ferretdb` on PATH if it is a 1.x (2.x cannot run
 * on SQLite), else the one in `.tools/bin`. Undefined when there is none.
 */
export async function locateFerretDb(
  projectRoot: string,
  env: NodeJS.ProcessEnv = process.env,
  log: LauncherLog = () => undefined,
): Promise<string | undefined> {
  const onPath = findExecutable('ferretdb', env);
  if (onPath !== undefined) {
    const version = await readFerretDbVersion(onPath);
    if (hasSqliteBackend(version)) return onPath;
    log(
      `Ignoring ${onPath} (version ${version ?? 'unknown'}): only FerretDB 1.x has the SQLite backend.`,
    );
  }
  const tool = ferretDbToolPath(projectRoot);
  if (isExecutableFile(tool) && hasSqliteBackend(await readFerretDbVersion(tool))) return tool;
  return undefined;
}

export interface InstallFerretDbOptions {
  projectRoot?: string;
  env?: NodeJS.ProcessEnv;
  log?: LauncherLog;
  /** Rebuild even if the right version is already installed. */
  force?: boolean;
  /** Why we are building, prepended to the progress message. */
  reason?: string;
}

export interface InstallFerretDbResult {
  binaryPath: string;
  version: string;
  action: 'already-installed' | 'built';
  durationMs: number;
}

/**
 * Builds the pinned FerretDB into `<project>/.tools/bin/ferretdb` with the
 * local Go toolchain, unless it is already there.
 *
 * Why not `go install …@v1.24.2`: the module proxy refuses the module's
 * version list, and a plain dependency build panics at start-up because
 * `build/version/version.txt` is not in the module zip. So: download the
 * module, copy it out of the read-only module cache, add version.txt, build.
 * Go's module and build caches are reused, so a rebuild takes seconds.
 */
export async function installFerretDb(
  options: InstallFerretDbOptions = {},
): Promise<InstallFerretDbResult> {
  const started = Date.now();
  const projectRoot = options.projectRoot ?? findProjectRoot();
  const env = options.env ?? process.env;
  const log = options.log ?? ((message: string) => process.stderr.write(`${message}\n`));
  const binaryPath = ferretDbToolPath(projectRoot);
  const alreadyInstalled = async (): Promise<InstallFerretDbResult | undefined> =>
    options.force !== true && (await readFerretDbVersion(binaryPath)) === FERRETDB_VERSION
      ? {
          binaryPath,
          version: FERRETDB_VERSION,
          action: 'already-installed',
          durationMs: Date.now() - started,
        }
      : undefined;

  const existing = await alreadyInstalled();
  if (existing !== undefined) return existing;

  const go = findExecutable('go', env);
  if (go === undefined) {
    throw new Error(
      `Cannot build FerretDB ${FERRETDB_VERSION}: \`go\` is not on PATH. Install Go (https://go.dev/dl/) and retry.`,
    );
  }

  const tools = toolsDir(projectRoot);
  mkdirSync(join(tools, 'bin'), { recursive: true });
  return withLock(join(tools, 'ferretdb-install.lock'), log, async () => {
    // Whoever held the lock before us may have just built it.
    const builtMeanwhile = await alreadyInstalled();
    if (builtMeanwhile !== undefined) return builtMeanwhile;

    const shown = relative(projectRoot, binaryPath);
    log(
      `${options.reason !== undefined ? `${options.reason}; b` : 'B'}uilding FerretDB ${FERRETDB_VERSION.slice(1)} ` +
        `from the Go module proxy into ${relative(projectRoot, join(tools, 'bin'))} (one-off, ~1-2 min)...`,
    );
    const heartbeat = setInterval(
      () => log(`  ...still building FerretDB (${Math.round((Date.now() - started) / 1000)} s)`),
      20_000,
    );
    heartbeat.unref();
    // GOWORK=off: a go.work somewhere above must not pull the build into another workspace.
    const goEnv = { ...env, GOWORK: 'off', GO111MODULE: 'on' };
    try {
      log(`  1/3 go mod download ${FERRETDB_MODULE}@${FERRETDB_VERSION}`);
      const downloaded = await run(
        go,
        ['mod', 'download', '-json', `${FERRETDB_MODULE}@${FERRETDB_VERSION}`],
        {
          cwd: tools,
          env: goEnv,
        },
      );
      const moduleDir = parseModuleDir(downloaded.stdout);

      const sourceDir = join(tools, 'ferretdb-src');
      log(
        `  2/3 copy sources to ${relative(projectRoot, sourceDir)} and add build/version/version.txt`,
      );
      removeTree(sourceDir);
      cpSync(moduleDir, sourceDir, { recursive: true });
      makeWritable(sourceDir);
      writeFileSync(join(sourceDir, 'build', 'version', 'version.txt'), `${FERRETDB_VERSION}\n`);

      // Build next to the target and rename: an interrupted build never leaves a half-written binary.
      const tempBinary = `${binaryPath}.tmp-${process.pid}`;
      log(`  3/3 go build ./cmd/ferretdb -> ${shown}`);
      try {
        await run(
          go,
          ['build', '-buildvcs=false', '-mod=readonly', '-o', tempBinary, './cmd/ferretdb'],
          {
            cwd: sourceDir,
            env: goEnv,
          },
        );
        const version = await readFerretDbVersion(tempBinary);
        if (version !== FERRETDB_VERSION) {
          throw new Error(
            `The freshly built FerretDB reports version ${version ?? '(none)'}, not ${FERRETDB_VERSION}.`,
          );
        }
        renameSync(tempBinary, binaryPath);
      } finally {
        rmSync(tempBinary, { force: true });
      }
    } finally {
      clearInterval(heartbeat);
    }
    const durationMs = Date.now() - started;
    log(`Built FerretDB ${FERRETDB_VERSION} into ${shown} in ${(durationMs / 1000).toFixed(1)} s.`);
    return { binaryPath, version: FERRETDB_VERSION, action: 'built', durationMs };
  });
}

function parseModuleDir(stdout: string): string {
  let info: { Dir?: string; Error?: string };
  try {
    info = JSON.parse(stdout) as { Dir?: string; Error?: string };
  } catch {
    throw new Error(`Unexpected output from go mod download: ${stdout.slice(0, 500)}`);
  }
  if (info.Error !== undefined) throw new Error(`go mod download failed: ${info.Error}`);
  if (info.Dir === undefined || !existsSync(info.Dir)) {
    throw new Error(`go mod download did not report a module directory: ${stdout.slice(0, 500)}`);
  }
  return info.Dir;
}

/** Files copied from Go's module cache are read-only; make them ours to edit and delete. */
function makeWritable(path: string): void {
  const stat = lstatSync(path);
  if (stat.isSymbolicLink()) return;
  chmodSync(path, stat.mode | 0o200);
  if (stat.isDirectory()) for (const entry of readdirSync(path)) makeWritable(join(path, entry));
}

function removeTree(path: string): void {
  if (!existsSync(path)) return;
  // A copy interrupted before makeWritable leaves read-only dirs that rm cannot empty.
  makeWritable(path);
  rmSync(path, { recursive: true, force: true });
}

interface RunResult {
  stdout: string;
  stderr: string;
}

function run(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, windowsHide: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    const timeoutMs = options.timeoutMs ?? 15 * 60_000;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const result = {
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      };
      if (code === 0) return resolve(result);
      const how =
        signal !== null
          ? `was killed (${signal}${signal === 'SIGKILL' ? ', timed out?' : ''})`
          : `exited ${code}`;
      const detail = (result.stderr.trim() || result.stdout.trim())
        .split('\n')
        .slice(-30)
        .join('\n');
      reject(new Error(`\`${[command, ...args].join(' ')}\` ${how} in ${options.cwd}:\n${detail}`));
    });
  });
}

/**
 * Serializes installs across processes (parallel test workers, a dev server
 * and a test run): the second one waits, then finds the binary built.
 */
async function withLock<T>(lockFile: string, log: LauncherLog, body: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 20 * 60_000;
  let announced = false;
  for (;;) {
    try {
      const fd = openSync(lockFile, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = readLockHolder(lockFile);
    if (holder === 'stale') {
      rmSync(lockFile, { force: true });
      continue;
    }
    if (Date.now() > deadline)
      throw new Error(`Timed out waiting for ${lockFile} (held by pid ${holder}).`);
    if (!announced) {
      log(`Waiting for another FerretDB install (pid ${holder}) to finish...`);
      announced = true;
    }
    await sleep(1000);
  }
  try {
    return await body();
  } finally {
    rmSync(lockFile, { force: true });
  }
}

function readLockHolder(lockFile: string): number | 'stale' | 'unknown' {
  try {
    const pid = Number(readFileSync(lockFile, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0) return isPidAlive(pid) ? pid : 'stale';
    // Empty: just created, the pid is being written. Only an old empty file is stale.
    return Date.now() - statSync(lockFile).mtimeMs > 10_000 ? 'stale' : 'unknown';
  } catch {
    return 'unknown';
  }
}
