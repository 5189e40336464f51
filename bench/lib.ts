import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { type BuildOptions, build } from 'esbuild';

/** Shared by the benchmarks: bundling like the stack does, and timing imports in fresh processes. */
export const ESBUILD_LAMBDA: BuildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'esm',
  minify: true,
  mainFields: ['module', 'main'],
  // Same banner the CDK stack uses: lets bundled CommonJS dependencies call require() in an ES module.
  banner: { js: "import { createRequire } from 'module';const require = createRequire(import.meta.url);" },
  logLevel: 'silent',
};

export async function bundle(
  name: string,
  source: string,
  dir: string,
): Promise<{ file: string; bytes: number; zipBytes: number }> {
  const entry = join(dir, `${name}.entry.ts`);
  writeFileSync(entry, source);
  const file = join(dir, `${name}.mjs`);
  await build({ ...ESBUILD_LAMBDA, entryPoints: [entry], outfile: file, absWorkingDir: process.cwd() });
  return { file, bytes: statSync(file).size, zipBytes: gzipSync(readFileSync(file)).length };
}

/** Inside the repo, so entry files resolve the project's node_modules; git-ignored. */
export function workDir(): string {
  mkdirSync('bench/.build', { recursive: true });
  return mkdtempSync(join(resolve('bench/.build'), 'run-'));
}

/** Environment stripped of what slows Node's start (extra CA certs, options, the coding client's vars). */
export function cleanEnv(): NodeJS.ProcessEnv {
  const keep = ['PATH', 'HOME', 'LANG', 'TZ'];
  return Object.fromEntries(keep.filter((key) => process.env[key]).map((key) => [key, process.env[key]]));
}

/** Median and p90 of `await import(file)` in fresh processes, variants interleaved. */
export function importTimes(files: string[], samples: number): Map<string, number[]> {
  const times = new Map<string, number[]>(files.map((file) => [file, []]));
  const script =
    'const t=process.hrtime.bigint();await import(process.argv[1]);process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6));';
  for (let i = 0; i < samples; i++) {
    for (const file of files) {
      const run = spawnSync(process.execPath, ['--input-type=module', '-e', script, file], {
        env: cleanEnv(),
        encoding: 'utf8',
      });
      if (run.status !== 0) throw new Error(`import of ${file} failed: ${run.stderr}`);
      times.get(file)?.push(Number(run.stdout));
    }
  }
  return times;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

export const machine = () => ({ cpu: cpus()[0]?.model ?? 'unknown', node: process.version });
