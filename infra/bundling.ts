import { OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { BuildOptions } from 'esbuild';

/**
 * How every function is bundled (esbuild through NodejsFunction). The benchmark and the package build
 * turn it into esbuild's own options below, so what they build is what the stack deploys.
 */
export const BUNDLING = {
  format: OutputFormat.ESM,
  target: 'node22',
  minify: true,
  // No source maps: loading one with --enable-source-maps cost the webhook ~20 ms of every cold start,
  // and the logs carry error names and messages, never stacks (README, "Cold start").
  sourceMap: false,
  // ESM first: a CommonJS build of the same code imports about twice as slowly.
  mainFields: ['module', 'main'],
  bundleAwsSDK: true,
  // Bundled CommonJS dependencies may still call require(); give the ES module one.
  banner: "import { createRequire } from 'module';const require = createRequire(import.meta.url);",
} as const;

/**
 * `BUNDLING` turned into the esbuild options NodejsFunction passes on the command line (`--bundle
 * --platform=node --format --target --minify --sourcemap --sources-content --main-fields --banner:js`,
 * no externals when the SDK is bundled, the output `index.mjs`), NodejsFunction's defaults for the
 * options it leaves out. A bundling option the stack starts using that is not handled here fails the
 * type check below, so nothing can quietly build something else (test/infra/bundles.test.ts compares
 * the bytes).
 */
type Handled =
  | 'format'
  | 'target'
  | 'minify'
  | 'sourceMap'
  | 'sourcesContent'
  | 'mainFields'
  | 'bundleAwsSDK'
  | 'banner';
const EVERY_OPTION_HANDLED: [Exclude<keyof typeof BUNDLING, Handled>] extends [never] ? true : never = true;

interface StackBundling {
  format?: OutputFormat;
  target?: string;
  minify?: boolean;
  sourceMap?: boolean;
  sourcesContent?: boolean;
  mainFields?: readonly string[];
  bundleAwsSDK?: boolean;
  banner?: string;
}
const STACK: StackBundling = BUNDLING;

/** Whether bundles are ES modules, hence named `index.mjs`. */
export const ESM = (STACK.format ?? OutputFormat.CJS) === OutputFormat.ESM;

/** The bundle's file name inside a function's asset directory, as NodejsFunction names it. */
export const BUNDLE_FILE = ESM ? 'index.mjs' : 'index.js';

export function stackEsbuildOptions(): BuildOptions {
  void EVERY_OPTION_HANDLED;
  return {
    bundle: true,
    platform: 'node',
    format: ESM ? 'esm' : 'cjs',
    // The stack's runtime is Node.js 22; NodejsFunction derives the same target from it.
    target: STACK.target ?? 'node22',
    minify: STACK.minify ?? false,
    sourcemap: STACK.sourceMap ?? false,
    sourcesContent: STACK.sourcesContent ?? true,
    ...(STACK.mainFields ? { mainFields: [...STACK.mainFields] } : {}),
    // NodejsFunction's default externals (`@aws-sdk/*`) apply only when the SDK is not bundled.
    external: STACK.bundleAwsSDK ? [] : ['@aws-sdk/*'],
    ...(STACK.banner ? { banner: { js: STACK.banner } } : {}),
    logLevel: 'error',
  };
}
