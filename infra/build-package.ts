import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { generateDtsBundle } from 'dts-bundle-generator';
import { build } from 'esbuild';
import { FUNCTION_ENTRIES } from '#shared/handlers/manifest';
import { BUNDLE_FILE, stackEsbuildOptions } from './bundling.ts';
import { functionEntry, PROJECT_ROOT, prebuiltDir } from './constructs/terra-function.ts';

/**
 * `npm run build` (`npm pack` runs it first): what the package ships, under dist/.
 *
 * - Each `exports` entry of package.json that names its source (condition `terra-connect-source`): the
 *   source bundled by esbuild into its `default` file, what the package declares (dependencies, peer
 *   dependencies) left to the installer and everything else (our shared code, zod) inside; its
 *   declarations bundled by dts-bundle-generator into its `types` file, our own types inlined. Neither
 *   needs our sources or the `#shared/*` aliases, which point at TypeScript that is not shipped. A new
 *   entry (the frontend client, `./client`) is one line there: `{"terra-connect-source": "./…/index.ts",
 *   "types": "./dist/client/index.d.ts", "default": "./dist/client/index.js"}`.
 * - Every function, prebuilt with the stack's own bundling options (infra/bundling.ts) into
 *   `dist/functions/<entry>/index.mjs`, which the construct deploys where our sources are not there.
 */
interface Manifest {
  exports: Record<string, { 'terra-connect-source'?: string; types?: string; default?: string }>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

const DIST = join(PROJECT_ROOT, 'dist');

/** The export condition under which package.json names an entry's source (tsconfig, vitest.config). */
const SOURCE = 'terra-connect-source';

interface PackageEntry {
  subpath: string;
  source: string;
  types: string;
  output: string;
}

function packageEntries(): PackageEntry[] {
  const manifest = readManifest();
  return Object.entries(manifest.exports).flatMap(([subpath, target]) => {
    const source = target[SOURCE];
    if (!source) return [];
    if (!target.types || !target.default)
      throw new Error(`package.json exports["${subpath}"] names a source but no "types" and "default".`);
    return [{ subpath, source, types: target.types, output: target.default }];
  });
}

function readManifest(): Manifest {
  return JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as Manifest;
}

/** One function, bundled as the stack bundles it, where the construct looks for it under `root`. */
export async function buildFunction(entry: string, root = PROJECT_ROOT): Promise<string> {
  const outfile = join(prebuiltDir(entry, root), BUNDLE_FILE);
  await build({
    ...stackEsbuildOptions(),
    entryPoints: [functionEntry(entry)],
    outfile,
    absWorkingDir: PROJECT_ROOT,
  });
  return outfile;
}

async function bundleEntry(entry: PackageEntry, installed: string[]): Promise<void> {
  await build({
    entryPoints: [join(PROJECT_ROOT, entry.source)],
    outfile: join(PROJECT_ROOT, entry.output),
    bundle: true,
    platform: 'node',
    format: 'esm',
    // The oldest Node package.json's engines allow, which every app using the package runs.
    target: 'node22',
    // A package the installer brings, with its subpaths (aws-cdk-lib/aws-lambda, …).
    external: installed.flatMap((name) => [name, `${name}/*`]),
    absWorkingDir: PROJECT_ROOT,
    logLevel: 'error',
  });
}

/**
 * Every entry's declarations from one compilation of the entries alone (not the whole repository the
 * root tsconfig includes): declaration emit type-checks all it reaches, aws-cdk-lib's types included.
 */
function writeDeclarations(entries: PackageEntry[]): void {
  const config = join(PROJECT_ROOT, '.cache', 'tsconfig.package.json');
  mkdirSync(dirname(config), { recursive: true });
  writeFileSync(
    config,
    JSON.stringify({
      extends: '../tsconfig.json',
      include: [],
      files: entries.map((entry) => join('..', entry.source)),
    }),
  );
  const declarations = generateDtsBundle(
    entries.map((entry) => ({
      filePath: join(PROJECT_ROOT, entry.source),
      output: { noBanner: true, exportReferencedTypes: false },
    })),
    { preferredConfigPath: config },
  );
  entries.forEach((entry, index) => {
    const file = join(PROJECT_ROOT, entry.types);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, declarations[index] ?? '');
  });
}

export async function buildPackage(): Promise<void> {
  rmSync(DIST, { recursive: true, force: true });
  const manifest = readManifest();
  const installed = Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies });
  const entries = packageEntries();
  for (const entry of entries) await bundleEntry(entry, installed);
  writeDeclarations(entries);
  for (const entry of FUNCTION_ENTRIES) await buildFunction(entry);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await buildPackage();
  console.log(
    `Built ${DIST}: ${packageEntries()
      .map((entry) => entry.subpath)
      .join(', ')} and every function.`,
  );
}
