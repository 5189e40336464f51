import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, and the git-ignored scratch space of the benchmarks under it. */
export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BUILD_DIR = join(PROJECT_ROOT, 'bench', '.build');
export const RESULTS_FILE = join(PROJECT_ROOT, 'bench', 'results', 'latest.json');

/**
 * A fresh directory under `bench/.build/` (inside the repository, so bundles resolve node_modules as
 * the stack's do), emptied first.
 */
export function workDir(name: string): string {
  const dir = join(BUILD_DIR, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}
