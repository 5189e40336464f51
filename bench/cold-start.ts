import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { Plugin } from 'esbuild';
import {
  type Bundle,
  bundleEntry,
  bundleSource,
  composition,
  type ImportSample,
  type ImportVariant,
  importTimes,
  includes,
  nodeVersion,
  PROJECT_ROOT,
  quantile,
  round,
  workDir,
} from './lib.ts';
import { type Patch, PROOFS } from './proofs/index.ts';

/**
 * Issue 6 §1: each function bundled exactly as the stack bundles it, `await import`ed in fresh Node
 * processes against a floor that only constructs the DynamoDB document client. Also: what each bundle
 * carries (esbuild metafile), the webhook as deployed (NODE_OPTIONS=--enable-source-maps), and patched
 * copies that prove what each known lever gains.
 */
export const FLOOR_SOURCE = `import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
export const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
`;

export const WEBHOOK = 'terra-webhook';

export interface ColdStartRow {
  function: string;
  medianMs: number;
  p90Ms: number;
  bytes: number;
  zipBytes: number;
  ratioToFloor: number;
  cpuMedianMs: number;
  touchesDynamo: boolean;
  target: string;
  targetMet: boolean;
  /** The largest modules in the bundle, for the closing note. */
  carries: string;
  error?: string;
}

export interface ProofRow {
  id: string;
  function: string;
  lever: string;
  fix: string;
  medianMs: number;
  ratioToFloor: number;
  bytes: number;
  zipBytes: number;
  /** Median import ms saved against the unpatched function in the same run. */
  savedMs: number;
  error?: string;
}

export interface ColdStartRun {
  node: string;
  samples: number;
  floor: { medianMs: number; p90Ms: number; bytes: number; zipBytes: number; cpuMedianMs: number };
  rows: ColdStartRow[];
  asDeployed?: { function: string; medianMs: number; ratioToFloor: number; note: string };
  proofs: ProofRow[];
  notes: string[];
}

export interface Built {
  name: string;
  bundle: Bundle;
}

export function functionNames(): string[] {
  return readdirSync(join(PROJECT_ROOT, 'functions'))
    .filter((file) => file.endsWith('.ts'))
    .map((file) => file.slice(0, -3))
    .sort();
}

/** The variables the stack gives every function, plus what Lambda itself sets; plausible, offline. */
export function lambdaEnv(node: string, memoryMb: number, name: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    LANG: 'en_US.UTF-8',
    TZ: ':UTC',
    AWS_REGION: 'eu-west-1',
    AWS_DEFAULT_REGION: 'eu-west-1',
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    AWS_LAMBDA_FUNCTION_NAME: `TerraConnect-${name}`,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memoryMb),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_ACCESS_KEY_ID: 'ASIABENCHMARKONLY000',
    AWS_SECRET_ACCESS_KEY: 'bench/only/not/a/real/secret/key/000000',
    AWS_SESSION_TOKEN: 'bench-session-token',
    POWERTOOLS_SERVICE_NAME: 'terra-connect',
    CONNECTIONS_TABLE: 'TerraConnect-Connections',
    INBOX_TABLE: 'TerraConnect-Inbox',
    TERRA_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:TerraSecret-AbCdEf',
    REDIRECT_TARGETS: JSON.stringify({
      web: {
        success: 'https://app.example.com/connected',
        failure: 'https://app.example.com/connect-failed',
      },
    }),
    ARCHIVE_BUCKET: 'terraconnect-archive-123456789012',
  };
  // AWS SDK releases from 2026 warn once on Node < 22 (Lambda runs 22): an artifact of the host, not the code.
  if (!nodeVersion(node).startsWith('v22')) env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  return env;
}

const memoryOf = (name: string) => (name === WEBHOOK ? 1024 : 512);

function targetFor(name: string, touchesDynamo: boolean): { text: string; limit: number; strict: boolean } {
  if (name === WEBHOOK) return { text: '≤ 1.15×', limit: 1.15, strict: false };
  if (touchesDynamo) return { text: '≤ 1.25×', limit: 1.25, strict: false };
  return { text: '< 1.00×', limit: 1, strict: true };
}

function patchPlugin(patches: Patch[], applied: Set<string>, failed: Set<string>): Plugin {
  return {
    name: 'bench-proof-patches',
    setup(build) {
      for (const patch of patches) {
        if (patch.target.startsWith('shared/')) continue;
        const { use, generate } = patch;
        const escaped = patch.target.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
        build.onResolve({ filter: new RegExp(`^${escaped}$`) }, () => {
          applied.add(patch.target);
          return use ? { path: use } : { path: patch.target, namespace: 'bench-generated' };
        });
        if (generate) {
          build.onLoad({ filter: new RegExp(`^${escaped}$`), namespace: 'bench-generated' }, async () => ({
            contents: await generate(),
            loader: 'js',
          }));
        }
      }
      build.onLoad({ filter: /\.ts$/ }, (args) => {
        const patch = patches.find((p) => p.target === relative(PROJECT_ROOT, args.path));
        if (!patch) return undefined;
        if (patch.use) {
          applied.add(patch.target);
          return { contents: readFileSync(patch.use, 'utf8'), loader: 'ts', resolveDir: dirname(patch.use) };
        }
        const contents = patch.rewrite?.(readFileSync(args.path, 'utf8'));
        if (contents === undefined) {
          failed.add(patch.target);
          return undefined;
        }
        applied.add(patch.target);
        return { contents, loader: 'ts', resolveDir: dirname(args.path) };
      });
    },
  };
}

/**
 * `cdk synth` into `bench/.build/cdk.out` (the repository's own cdk.out is left alone), so each bundle
 * can be compared byte for byte with the asset the stack itself builds. Undefined when synth fails.
 */
export function synthesize(log: (line: string) => void): string | undefined {
  const out = join(PROJECT_ROOT, 'bench', '.build', 'cdk.out');
  log('Synthesizing the stack (cdk synth) to check the bundles against its assets …');
  const run = spawnSync('npx', ['cdk', 'synth', '--no-notices', '--quiet', '-o', out], {
    cwd: PROJECT_ROOT,
    encoding: 'utf8',
    timeout: 300_000,
  });
  if (run.status === 0) return out;
  log(`  cdk synth failed: ${(run.stderr || '').trim().split('\n').slice(-3).join(' ')}`);
  return undefined;
}

/** Compares each bundle with the asset `cdk synth` wrote for the same function. */
export function compareWithCdkOut(built: Built[], outDir: string | undefined): string {
  const templateFile = outDir && join(outDir, 'TerraConnect.template.json');
  if (!outDir || !templateFile || !existsSync(templateFile))
    return 'not compared with cdk synth (synth failed or BENCH_SYNTH=0)';
  const template = JSON.parse(readFileSync(templateFile, 'utf8')) as {
    Resources: Record<string, { Type: string; Metadata?: Record<string, string> }>;
  };
  const assets = new Map<string, string>();
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const name = resource.Metadata?.['aws:cdk:path']?.split('/')[1];
    const asset = resource.Metadata?.['aws:asset:path'];
    if (name && asset) assets.set(name, join(outDir, asset, 'index.mjs'));
  }
  const digest = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
  const same: string[] = [];
  const differ: string[] = [];
  const missing: string[] = [];
  for (const { name, bundle } of built) {
    const asset = assets.get(name);
    if (!asset || !existsSync(asset)) missing.push(name);
    else if (digest(asset) === digest(bundle.file)) same.push(name);
    else differ.push(name);
  }
  const parts = [`${same.length}/${built.length} byte-identical to the assets of cdk synth`];
  if (differ.length) parts.push(`DIFFERENT: ${differ.join(', ')}`);
  if (missing.length) parts.push(`not a function of the stack: ${missing.join(', ')}`);
  return parts.join('; ');
}

export interface BuildAll {
  floor: Bundle;
  functions: Built[];
  proofs: Array<{ proof: (typeof PROOFS)[number]; bundle?: Bundle; error?: string }>;
  cdkCheck: string;
}

export async function buildAll(withProofs: boolean, synthOut?: string): Promise<BuildAll> {
  const dir = workDir('cold-start');
  const floor = await bundleSource('floor', FLOOR_SOURCE, dir);
  const functions: Built[] = [];
  for (const name of functionNames()) {
    functions.push({
      name,
      bundle: await bundleEntry(join(PROJECT_ROOT, 'functions', `${name}.ts`), join(dir, name)),
    });
  }
  const proofs: BuildAll['proofs'] = [];
  for (const [i, proof] of (withProofs ? PROOFS : []).entries()) {
    const applied = new Set<string>();
    const failed = new Set<string>();
    try {
      const bundle = await bundleEntry(
        join(PROJECT_ROOT, 'functions', `${proof.function}.ts`),
        join(dir, `proof-${i}`),
        [patchPlugin(proof.patches, applied, failed)],
      );
      const unused = proof.patches.map((p) => p.target).filter((t) => !applied.has(t) && !failed.has(t));
      if (failed.size || unused.length) {
        const why = [...failed].map((t) => `${t} changed`).concat(unused.map((t) => `${t} not imported`));
        proofs.push({ proof, error: `not applicable: ${why.join(', ')}` });
      } else proofs.push({ proof, bundle });
    } catch (error) {
      proofs.push({ proof, error: `build failed: ${(error as Error).message.split('\n')[0]}` });
    }
  }
  return { floor, functions, proofs, cdkCheck: compareWithCdkOut(functions, synthOut) };
}

function describeCarries(bundle: Bundle, floorModules: Set<string>): string {
  return composition(bundle.metafile)
    .filter((row) => !floorModules.has(row.module))
    .slice(0, 4)
    .map((row) => `${row.module} ${(row.bytes / 1024).toFixed(0)}K`)
    .join(', ');
}

const stats = (samples: ImportSample[]) => ({
  medianMs: round(
    quantile(
      samples.map((s) => s.wallMs),
      0.5,
    ),
  ),
  p90Ms: round(
    quantile(
      samples.map((s) => s.wallMs),
      0.9,
    ),
  ),
  cpuMedianMs: round(
    quantile(
      samples.map((s) => s.cpuMs),
      0.5,
    ),
  ),
});

export function measure(
  built: BuildAll,
  node: string,
  samples: number,
  options: { proofs: boolean; asDeployed: boolean },
): ColdStartRun {
  const floorModules = new Set(composition(built.floor.metafile).map((row) => row.module));
  const variants: ImportVariant[] = [
    { id: 'floor', file: built.floor.file, env: lambdaEnv(node, 512, 'floor') },
    ...built.functions.map(({ name, bundle }) => ({
      id: name,
      file: bundle.file,
      env: lambdaEnv(node, memoryOf(name), name),
    })),
  ];
  const webhook = built.functions.find((f) => f.name === WEBHOOK);
  if (options.asDeployed && webhook) {
    variants.push({
      id: 'as-deployed',
      file: webhook.bundle.file,
      env: lambdaEnv(node, 1024, WEBHOOK),
      nodeArgs: ['--enable-source-maps'],
    });
  }
  const proofs = options.proofs ? built.proofs : [];
  for (const { proof, bundle } of proofs) {
    if (bundle)
      variants.push({
        id: proof.id,
        file: bundle.file,
        env: lambdaEnv(node, memoryOf(proof.function), proof.function),
      });
  }

  const times = importTimes(variants, samples, node);
  const floorSamples = times.get('floor');
  if (!Array.isArray(floorSamples))
    throw new Error(`the floor bundle failed to import: ${floorSamples?.error}`);
  const floor = { ...stats(floorSamples), bytes: built.floor.bytes, zipBytes: built.floor.zipBytes };
  // Paired within each round (the floor ran seconds apart in the same round), so a neighbour's load
  // that comes and goes over a run falls on both sides of each ratio instead of on whichever variant
  // it happened to hit: the median of per-round ratios, and of per-round differences.
  const paired = (a: ImportSample[], b: ImportSample[], f: (x: number, y: number) => number) =>
    round(
      quantile(
        a.slice(0, Math.min(a.length, b.length)).map((s, i) => f(s.wallMs, b[i]?.wallMs ?? Number.NaN)),
        0.5,
      ),
    );
  const ratio = (sample: ImportSample[]) => paired(sample, floorSamples, (x, y) => x / y);

  const rows: ColdStartRow[] = built.functions.map(({ name, bundle }) => {
    const touchesDynamo = includes(bundle.metafile, /node_modules\/@aws-sdk\/client-dynamodb\//);
    const target = targetFor(name, touchesDynamo);
    const sample = times.get(name);
    const s = Array.isArray(sample)
      ? stats(sample)
      : { medianMs: Number.NaN, p90Ms: Number.NaN, cpuMedianMs: Number.NaN };
    const r = Array.isArray(sample) ? ratio(sample) : Number.NaN;
    return {
      function: name,
      medianMs: s.medianMs,
      p90Ms: s.p90Ms,
      bytes: bundle.bytes,
      zipBytes: bundle.zipBytes,
      ratioToFloor: r,
      cpuMedianMs: s.cpuMedianMs,
      touchesDynamo,
      target: target.text,
      targetMet: target.strict ? r < target.limit : r <= target.limit,
      carries: describeCarries(bundle, floorModules),
      ...(Array.isArray(sample) ? {} : { error: sample?.error ?? 'no samples' }),
    };
  });

  const run: ColdStartRun = { node: nodeVersion(node), samples, floor, rows, proofs: [], notes: [] };
  const deployed = times.get('as-deployed');
  if (Array.isArray(deployed) && deployed.length) {
    const medianMs = stats(deployed).medianMs;
    run.asDeployed = {
      function: WEBHOOK,
      medianMs,
      ratioToFloor: ratio(deployed),
      note: 'NODE_OPTIONS=--enable-source-maps, as the stack sets it',
    };
  }
  for (const { proof, bundle, error } of proofs) {
    const sample = times.get(proof.id);
    const base = rows.find((row) => row.function === proof.function);
    const baseSample = times.get(proof.function);
    if (!bundle || !Array.isArray(sample) || !base || !Array.isArray(baseSample)) {
      const reason = error ?? (Array.isArray(sample) ? 'no base row' : sample?.error) ?? 'no samples';
      run.proofs.push({
        id: proof.id,
        function: proof.function,
        lever: proof.lever,
        fix: proof.fix,
        medianMs: Number.NaN,
        ratioToFloor: Number.NaN,
        bytes: bundle?.bytes ?? 0,
        zipBytes: bundle?.zipBytes ?? 0,
        savedMs: Number.NaN,
        error: reason,
      });
      continue;
    }
    const medianMs = stats(sample).medianMs;
    run.proofs.push({
      id: proof.id,
      function: proof.function,
      lever: proof.lever,
      fix: proof.fix,
      medianMs,
      ratioToFloor: ratio(sample),
      bytes: bundle.bytes,
      zipBytes: bundle.zipBytes,
      savedMs: paired(baseSample, sample, (x, y) => x - y),
    });
  }
  return run;
}
