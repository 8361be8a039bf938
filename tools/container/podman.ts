import { spawnSync } from 'node:child_process';

/**
 * podman as this tool runs it: the runc runtime (podman's default, crun, fails
 * on hosts whose cgroups are in hybrid mode) and modest process limits (the
 * defaults podman derives from the host can exceed what a nested sandbox
 * allows). Every command and its output go to the console, which is the
 * tool's report.
 */
export const RUNTIME = ['--runtime', 'runc'];
export const LIMITS = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];

export interface Result {
  status: number;
  stdout: string;
  stderr: string;
}

export function podman(
  args: string[],
  options: { input?: Buffer; timeoutMs?: number; allowFailure?: boolean; quiet?: boolean } = {},
): Result {
  if (!options.quiet) console.log(`$ podman ${args.join(' ')}`);
  const ran = spawnSync('podman', [...RUNTIME, ...args], {
    input: options.input,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: options.timeoutMs ?? 10 * 60_000,
  });
  const result = {
    status: ran.status ?? 1,
    stdout: ran.stdout ?? '',
    stderr: ran.stderr ?? (ran.error ? String(ran.error) : ''),
  };
  if (!options.quiet) {
    if (result.stdout.trim()) console.log(result.stdout.trimEnd());
    if (result.stderr.trim()) console.log(result.stderr.trimEnd());
  }
  if (result.status !== 0 && !options.allowFailure) {
    throw new Error(
      `podman ${args.slice(0, 3).join(' ')} ... exited ${result.status}: ${result.stderr.trim().split('\n').slice(-3).join(' | ')}`,
    );
  }
  return result;
}

export const imageExists = (name: string): boolean =>
  podman(['image', 'exists', name], { allowFailure: true, quiet: true }).status === 0;

/** `{{.X}}` of `podman inspect` on a container or image. */
export const inspect = (target: string, format: string): string =>
  podman(['inspect', '--format', format, target], { quiet: true }).stdout.trim();

/** `podman image inspect` of one image, parsed (its Go templates cannot reach every field). */
export function imageInspect(image: string): {
  User?: string;
  Size?: number;
  Healthcheck?: { Test?: string[] } | null;
} {
  const [info] = JSON.parse(podman(['image', 'inspect', image], { quiet: true }).stdout) as [
    ReturnType<typeof imageInspect>,
  ];
  return info;
}
