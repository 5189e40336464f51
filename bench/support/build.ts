import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';
import { BUNDLE_FILE, stackEsbuildOptions } from '../../infra/bundling.ts';
import { functionEntry } from '../../infra/constructs/terra-function.ts';
import { PROJECT_ROOT } from './paths.ts';

export interface Bundle {
  file: string;
  bytes: number;
  /** The bundle gzipped: about what the deployment package costs to fetch and unpack. */
  zipBytes: number;
  metafile: Metafile;
}

/**
 * Bundles exactly as the stack does: `stackEsbuildOptions()` is the stack's `BUNDLING`
 * (infra/bundling.ts) as esbuild options, the same the package build ships prebuilt.
 */
async function bundleTo(entry: string, outDir: string): Promise<Bundle> {
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, BUNDLE_FILE);
  const result = await build({
    ...stackEsbuildOptions(),
    entryPoints: [entry],
    outfile: file,
    absWorkingDir: PROJECT_ROOT,
    metafile: true,
  });
  return {
    file,
    bytes: statSync(file).size,
    zipBytes: gzipSync(readFileSync(file)).length,
    metafile: result.metafile,
  };
}

/** A function of the stack, by entry name; undefined when `functions/<entry>.ts` does not exist (yet). */
export async function bundleFunction(entry: string, outDir: string): Promise<Bundle | undefined> {
  const file = functionEntry(entry);
  return existsSync(file) ? bundleTo(file, outDir) : undefined;
}

export const entryFileOf = (entry: string): string => functionEntry(entry);

/** Any module of the repository bundled as the stack would bundle a function. */
export const bundleFile = (entry: string, outDir: string): Promise<Bundle> => bundleTo(entry, outDir);

/** A source text bundled as the stack would bundle a function (the floor). */
export async function bundleSource(source: string, outDir: string): Promise<Bundle> {
  mkdirSync(outDir, { recursive: true });
  const entry = join(outDir, 'entry.ts');
  writeFileSync(entry, source);
  return bundleTo(entry, outDir);
}

/**
 * A helper script of the benchmark (not a function) as one plain ES module, for processes that run
 * on Node 22 without the TypeScript loader.
 */
export async function bundleScript(entry: string, outFile: string): Promise<string> {
  await build({
    entryPoints: [entry],
    outfile: outFile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Bundled CommonJS dependencies may call require(); give the ES module one.
    banner: { js: "import { createRequire } from 'module';const require = createRequire(import.meta.url);" },
    absWorkingDir: PROJECT_ROOT,
    logLevel: 'error',
  });
  return outFile;
}

/** Bytes each package (or project file) contributes to a bundle, largest first. */
export function composition(metafile: Metafile): Array<{ module: string; bytes: number }> {
  const output = Object.values(metafile.outputs).find((out) => out.entryPoint !== undefined);
  const totals = new Map<string, number>();
  for (const [path, input] of Object.entries(output?.inputs ?? {})) {
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1];
    const key = pkg ?? path.replace(/^.*?\b(shared|functions|local|bench)\//, '$1/');
    totals.set(key, (totals.get(key) ?? 0) + input.bytesInOutput);
  }
  return [...totals]
    .map(([module, bytes]) => ({ module, bytes }))
    .filter((row) => row.bytes > 0)
    .sort((a, b) => b.bytes - a.bytes);
}

/** The largest modules of `bundle` that the floor does not carry: "what it carries beyond the floor". */
export function beyondFloor(
  bundle: Bundle,
  floor: Bundle,
  count = 4,
): Array<{ module: string; bytes: number }> {
  const floorModules = new Set(composition(floor.metafile).map((row) => row.module));
  return composition(bundle.metafile)
    .filter((row) => !floorModules.has(row.module))
    .slice(0, count);
}

/** Whether any of `@aws-sdk/client-dynamodb` survived tree-shaking into the output. */
export const carriesDynamoClient = (bundle: Bundle): boolean =>
  composition(bundle.metafile).some((row) => row.module === '@aws-sdk/client-dynamodb');

/**
 * How the entry reaches a module matching `target`: the chain of imports esbuild followed, project
 * files only, then the first file of the package. Empty when it does not.
 */
export function importChain(bundle: Bundle, entry: string, target: RegExp): string[] {
  const inputs = bundle.metafile.inputs;
  const start = Object.keys(inputs).find((path) => entry.endsWith(path));
  if (!start) return [];
  const previous = new Map<string, string>([[start, '']]);
  const queue = [start];
  for (let path = queue.shift(); path !== undefined; path = queue.shift()) {
    if (target.test(path)) {
      const chain: string[] = [];
      for (let at = path; at; at = previous.get(at) ?? '') chain.unshift(at);
      return chain.filter((step, i) => i === chain.length - 1 || !step.includes('node_modules/'));
    }
    for (const next of inputs[path]?.imports ?? []) {
      if (next.external || previous.has(next.path)) continue;
      previous.set(next.path, path);
      queue.push(next.path);
    }
  }
  return [];
}
