import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Node 22, for the tools that need it on a machine that runs an older Node: Lambda's runtime for the
 * benchmark, and StrykerJS 10 (which refuses Node < 22) for the mutation run. The host's Node when it
 * is 22 already; else the official build from the npm registry (`node-<platform>-<arch>@22`, a plain
 * binary, no install script), installed once into `dir`.
 */
export interface NodeBinary {
  path: string;
  version: string;
  /** Why this binary is not Node 22, when it is not. */
  note?: string;
}

export function nodeVersion(path: string): string {
  if (path === process.execPath) return process.version;
  return spawnSync(path, ['--version'], { encoding: 'utf8' }).stdout.trim();
}

const host = (note?: string): NodeBinary => ({
  path: process.execPath,
  version: process.version,
  ...(note ? { note } : {}),
});

export function node22(dir: string, log: (line: string) => void): NodeBinary {
  if (process.versions.node.startsWith('22.')) return host();
  const pkg = `node-${process.platform}-${process.arch}`;
  const binary = join(dir, 'node_modules', pkg, 'bin', 'node');
  if (!existsSync(binary)) {
    log(`Fetching Node 22 (${pkg}@22 from the npm registry) into ${dir} …`);
    mkdirSync(dir, { recursive: true });
    const install = spawnSync(
      'npm',
      ['install', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--prefix', dir, `${pkg}@22`],
      { encoding: 'utf8', timeout: 180_000 },
    );
    if (install.status !== 0 || !existsSync(binary)) {
      const why = install.stderr?.trim().split('\n').pop() ?? 'no output';
      return host(`could not install ${pkg}@22 (${why})`);
    }
  }
  const version = nodeVersion(binary);
  return version.startsWith('v22') ? { path: binary, version } : host(`${binary} answered '${version}'`);
}
