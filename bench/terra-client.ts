import { join } from 'node:path';
import {
  bundleSource,
  cleanEnv,
  importTimes,
  machine,
  nodeVersion,
  PROJECT_ROOT,
  quantile,
  round,
  workDir,
} from './lib.ts';

/**
 * The client decision (issue 3): our thin client against Terra's official `terra-api` package, each
 * bundled as the stack bundles a function and constructed the way a handler would at cold start. Part
 * of `npm run bench`; runs alone with `tsx bench/terra-client.ts`.
 */
export interface ClientRow {
  variant: string;
  medianMs: number;
  p90Ms: number;
  bytes: number;
  zipBytes: number;
}

const ours = join(PROJECT_ROOT, 'shared', 'terra', 'client.ts');
const VARIANTS = {
  'empty module (floor)': 'export const ok = true;',
  'our client, constructed': `import { TerraClient } from ${JSON.stringify(ours)};
export const client = new TerraClient({ apiUrl: 'https://access.tryterra.co/api/v2', widgetSessionUrl: 'https://access.tryterra.co/api/widget/session', widgetMode: 'widget-api', credentials: async () => ({ devId: 'd', apiKey: 'k' }), timeoutMs: 2500, maxAttempts: 3, deadlineMs: 6000 });`,
  'terra-api client, constructed': `import { TerraClient } from 'terra-api';
export const client = new TerraClient({ devId: 'd', apiKey: 'k', baseUrl: 'https://access.tryterra.co/api/v2' });`,
};

export async function terraClientColdStart(samples: number, node = process.execPath): Promise<ClientRow[]> {
  const dir = workDir('terra-client');
  const built = [];
  for (const [i, [variant, source]] of Object.entries(VARIANTS).entries()) {
    built.push({ variant, ...(await bundleSource(`v${i}`, source, dir)) });
  }
  const times = importTimes(
    built.map((b) => ({ id: b.variant, file: b.file, env: cleanEnv() })),
    samples,
    node,
  );
  return built.map((b) => {
    const sample = times.get(b.variant);
    if (!Array.isArray(sample)) throw new Error(`${b.variant} failed to import: ${sample?.error}`);
    const wall = sample.map((s) => s.wallMs);
    return {
      variant: b.variant,
      medianMs: round(quantile(wall, 0.5)),
      p90Ms: round(quantile(wall, 0.9)),
      bytes: b.bytes,
      zipBytes: b.zipBytes,
    };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const samples = Number(process.env.SAMPLES ?? 30);
  const rows = await terraClientColdStart(samples);
  const { cpu } = machine();
  console.log(
    `Terra client cold start · ${cpu} · node ${nodeVersion(process.execPath)} · ${samples} samples per variant`,
  );
  console.table(rows);
}
