import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import * as ts from 'typescript';

export const PROJECT = join(__dirname, '..', '..');

/**
 * The service compiled from src/ as it is now into a temporary folder (no
 * Swagger plugin, which start-up does not need), so a test can run the real
 * entry point, `dist/main.js`, in its own process: cluster workers, exit
 * codes and what reaches stdout and stderr. Run it with
 * `NODE_PATH=<project>/node_modules`. Returns the folder.
 */
export function compileService(): string {
  const outDir = mkdtempSync(join(tmpdir(), 'compiled-service-'));
  const dist = join(outDir, 'dist');
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)],
    );
  for (const file of walk(join(PROJECT, 'src'))) {
    if (!file.endsWith('.ts') || file.endsWith('.spec.ts')) continue;
    const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
      fileName: file,
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
        experimentalDecorators: true,
        emitDecoratorMetadata: true,
      },
    });
    const target = join(dist, relative(join(PROJECT, 'src'), file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, outputText);
  }
  copyFileSync(join(PROJECT, 'package.json'), join(outDir, 'package.json'));
  return outDir;
}
