import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { bundleFile } from '../../support/build.ts';
import { lambdaRuntimeEnv } from '../../support/lambda-env.ts';
import type { NodeBinary } from '../../support/node22.ts';
import { PROJECT_ROOT, workDir } from '../../support/paths.ts';
import { type Spread, spread } from '../../support/stats.ts';

/**
 * The client decision (README, "Terra client: ours, not terra-api"): our thin client against Terra's
 * official `terra-api`, each bundled with the stack's options and constructed as a handler's wiring
 * would, `await import`ed in fresh Node 22 processes, interleaved, against an empty module.
 */
export interface ClientRow {
  variant: string;
  importMs: Spread;
  bytes: number;
  zipBytes: number;
  error: string | null;
}

const VARIANTS = [
  ['empty module (floor)', 'empty.ts'],
  ['our client, constructed', 'ours.ts'],
  ['terra-api client, constructed', 'theirs.ts'],
] as const;

const IMPORT = [
  'const t0=performance.now();',
  'await import(process.argv[1]);',
  'process.stdout.write(JSON.stringify(performance.now()-t0));',
].join('');

export async function measureTerraClient(samples: number, node: NodeBinary): Promise<ClientRow[]> {
  const dir = workDir('terra-client');
  const here = join(PROJECT_ROOT, 'bench', 'phases', 'terra-client');
  const built = [];
  for (const [i, [variant, file]] of VARIANTS.entries())
    built.push({ variant, bundle: await bundleFile(join(here, file), join(dir, `v${i}`)) });
  const times = new Map<string, number[]>(built.map((b) => [b.variant, []]));
  const errors = new Map<string, string>();
  const env = lambdaRuntimeEnv('terra-client', 512);
  for (let round = -1; round < samples; round++) {
    for (let k = 0; k < built.length; k++) {
      const item = built[(k + Math.max(round, 0)) % built.length];
      if (!item || errors.has(item.variant)) continue;
      const run = spawnSync(
        node.path,
        ['--input-type=module', '-e', IMPORT, pathToFileURL(item.bundle.file).href],
        {
          env,
          encoding: 'utf8',
          timeout: 30_000,
        },
      );
      if (run.status !== 0)
        errors.set(item.variant, (run.stderr || `exit ${run.status}`).trim().split('\n')[0] ?? '');
      else if (round >= 0) times.get(item.variant)?.push(Number(run.stdout));
    }
  }
  return built.map(({ variant, bundle }) => ({
    variant,
    importMs: spread(times.get(variant) ?? []),
    bytes: bundle.bytes,
    zipBytes: bundle.zipBytes,
    error: errors.get(variant) ?? null,
  }));
}
