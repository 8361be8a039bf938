import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

let cachedRoot: string | undefined;

/**
 * The repository root: the nearest directory above this file holding a
 * package.json. Walking up (instead of a fixed `../../..`) keeps it right for
 * both `tools/` under ts-jest and the compiled `dist-tools/`.
 */
export function findProjectRoot(startDir: string = __dirname): string {
  if (startDir === __dirname && cachedRoot !== undefined) return cachedRoot;
  let dir = startDir;
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) break;
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error(`No package.json found in ${startDir} or any parent directory.`);
    dir = parent;
  }
  if (startDir === __dirname) cachedRoot = dir;
  return dir;
}

/** `<project>/.tools`: locally built tools, git-ignored. */
export const toolsDir = (projectRoot: string): string => join(projectRoot, '.tools');

/** `<project>/.data`: persistent development data, git-ignored. */
export const dataRootDir = (projectRoot: string): string => join(projectRoot, '.data');
