import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { type BuildOptions, build, type Metafile, type Plugin } from 'esbuild';
import { quantile, round } from './stats.ts';

/** Shared by the benchmarks: bundling as the stack does, timing imports in fresh processes, statistics. */
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * The esbuild options `infra/constructs/terra-function.ts` gives `NodejsFunction` (format esm, target
 * node22, minify, source maps without sources, module/main first, the createRequire banner, the AWS SDK
 * bundled), as the CDK passes them to esbuild. `npm run bench` checks the result byte for byte against
 * the assets of a `cdk synth` run.
 */
export const CDK_BUNDLING = {
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'esm',
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  mainFields: ['module', 'main'],
  banner: { js: "import { createRequire } from 'module';const require = createRequire(import.meta.url);" },
  logLevel: 'silent',
} satisfies BuildOptions;

export interface Bundle {
  file: string;
  bytes: number;
  zipBytes: number;
  metafile: Metafile;
}

/** Bundles one entry to `<outDir>/index.mjs` (+ map) exactly as the stack would. */
export async function bundleEntry(entry: string, outDir: string, plugins: Plugin[] = []): Promise<Bundle> {
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, 'index.mjs');
  const result = await build({
    ...CDK_BUNDLING,
    entryPoints: [entry],
    outfile: file,
    absWorkingDir: PROJECT_ROOT,
    metafile: true,
    plugins,
  });
  return {
    file,
    bytes: statSync(file).size,
    zipBytes: gzipSync(readFileSync(file)).length,
    metafile: result.metafile,
  };
}

/** Bundles a source text (written next to its output) as the stack would. */
export async function bundleSource(name: string, source: string, dir: string): Promise<Bundle> {
  const outDir = join(dir, name);
  mkdirSync(outDir, { recursive: true });
  const entry = join(outDir, 'entry.ts');
  writeFileSync(entry, source);
  return bundleEntry(entry, outDir);
}

/** Bytes each package (or project file) contributes to a bundle, largest first. */
export function composition(metafile: Metafile): Array<{ module: string; bytes: number }> {
  const output = Object.values(metafile.outputs).find((out) => out.entryPoint !== undefined);
  const totals = new Map<string, number>();
  for (const [path, input] of Object.entries(output?.inputs ?? {})) {
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1];
    const key = pkg ?? path.replace(/^.*?\b(shared|functions|bench)\//, '$1/');
    totals.set(key, (totals.get(key) ?? 0) + input.bytesInOutput);
  }
  return [...totals]
    .map(([module, bytes]) => ({ module, bytes }))
    .filter((row) => row.bytes > 0)
    .sort((a, b) => b.bytes - a.bytes);
}

export function includes(metafile: Metafile, pattern: RegExp): boolean {
  return Object.keys(metafile.inputs).some((path) => pattern.test(path));
}

/** A fresh directory under `bench/.build/` (inside the repo, so entries resolve node_modules; git-ignored). */
export function workDir(name: string): string {
  const dir = join(PROJECT_ROOT, 'bench', '.build', name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Environment stripped of what slows Node's start (extra CA certs, NODE_OPTIONS, the shell's own vars). */
export function cleanEnv(): NodeJS.ProcessEnv {
  const keep = ['PATH', 'HOME', 'LANG', 'TZ'];
  return Object.fromEntries(keep.filter((key) => process.env[key]).map((key) => [key, process.env[key]]));
}

export interface ImportVariant {
  id: string;
  file: string;
  env: NodeJS.ProcessEnv;
  /** Extra node flags, e.g. `--enable-source-maps` as the stack sets it through NODE_OPTIONS. */
  nodeArgs?: string[];
}

export interface ImportSample {
  wallMs: number;
  cpuMs: number;
}

const IMPORT_SCRIPT = [
  'const c0=process.cpuUsage(),t0=process.hrtime.bigint();',
  'await import(process.argv[1]);',
  'const w=Number(process.hrtime.bigint()-t0)/1e6,c=process.cpuUsage(c0);',
  'process.stdout.write(JSON.stringify([w,(c.user+c.system)/1e3]));',
].join('');

/**
 * `await import(bundle)` timed inside fresh Node processes: one unrecorded round first (page cache),
 * then `samples` rounds, every variant once per round, the order rotated each round so that no variant
 * always runs first. A variant whose import fails is reported with its error, not retried.
 */
export function importTimes(
  variants: ImportVariant[],
  samples: number,
  node = process.execPath,
): Map<string, ImportSample[] | { error: string }> {
  const results = new Map<string, ImportSample[] | { error: string }>(variants.map((v) => [v.id, []]));
  for (let round = -1; round < samples; round++) {
    for (let k = 0; k < variants.length; k++) {
      const variant = variants[(k + Math.max(round, 0)) % variants.length];
      if (!variant) continue;
      const slot = results.get(variant.id);
      if (!Array.isArray(slot)) continue;
      const run = spawnSync(
        node,
        [
          ...(variant.nodeArgs ?? []),
          '--input-type=module',
          '-e',
          IMPORT_SCRIPT,
          pathToFileURL(variant.file).href,
        ],
        { env: variant.env, encoding: 'utf8', timeout: 60_000 },
      );
      if (run.status !== 0) {
        const message = (run.stderr || run.error?.message || `exit ${run.status}`).trim().split('\n');
        results.set(variant.id, { error: message.find((line) => /Error/.test(line)) ?? message[0] ?? '' });
        continue;
      }
      if (round < 0) continue;
      const [wallMs, cpuMs] = JSON.parse(run.stdout) as [number, number];
      slot.push({ wallMs, cpuMs });
    }
  }
  return results;
}

export { quantile, round };

export const machine = () => ({ cpu: cpus()[0]?.model ?? 'unknown', node: process.version });

/**
 * Lambda runs Node 22; the host may not. Uses `BENCH_NODE22` when set (`off` disables), else the
 * official build from the npm registry (`node-<platform>-<arch>@22`), installed once under
 * `bench/.build/node22`. Undefined when neither works: the phases then run on the host's Node only.
 */
export function lambdaNode(log: (line: string) => void): string | undefined {
  const configured = process.env.BENCH_NODE22;
  if (configured === 'off' || configured === '0') return undefined;
  if (configured) return existsSync(configured) ? configured : undefined;
  if (process.versions.node.startsWith('22.')) return process.execPath;
  const pkg = `node-${process.platform}-${process.arch}`;
  const prefix = join(PROJECT_ROOT, 'bench', '.build', 'node22');
  const binary = join(prefix, 'node_modules', pkg, 'bin', 'node');
  if (!existsSync(binary)) {
    log(`Fetching Node 22 (${pkg}@22 from the npm registry) into bench/.build/node22 …`);
    mkdirSync(prefix, { recursive: true });
    const install = spawnSync(
      'npm',
      [
        'install',
        '--no-save',
        '--no-package-lock',
        '--no-audit',
        '--no-fund',
        '--prefix',
        prefix,
        `${pkg}@22`,
      ],
      { encoding: 'utf8', timeout: 180_000 },
    );
    if (install.status !== 0 || !existsSync(binary)) {
      log(
        `  could not install it (${install.stderr?.trim().split('\n').pop() ?? 'no output'}); host Node only.`,
      );
      return undefined;
    }
  }
  const version = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  return version.status === 0 ? binary : undefined;
}

export function nodeVersion(node: string): string {
  if (node === process.execPath) return process.version;
  return spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
}
