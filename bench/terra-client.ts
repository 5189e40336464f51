import { resolve } from 'node:path';
import { bundle, importTimes, machine, percentile, workDir } from './lib.ts';

/**
 * The client decision (issue 3): our thin client against Terra's official `terra-api` package, each
 * bundled as the stack bundles a function and constructed the way a handler would at cold start.
 */
const samples = Number(process.env.SAMPLES ?? 30);
const dir = workDir();
const ours = resolve('shared/terra/client.ts');
const variants = {
  floor: `export const ok = true;`,
  ours: `import { TerraClient } from ${JSON.stringify(ours)};
export const client = new TerraClient({ apiUrl: 'https://access.tryterra.co/api/v2', widgetSessionUrl: 'https://access.tryterra.co/api/widget/session', widgetMode: 'widget-api', devId: 'd', apiKey: 'k', timeoutMs: 2500, maxAttempts: 3, deadlineMs: 6000 });`,
  'terra-api': `import { TerraClient } from 'terra-api';
export const client = new TerraClient({ devId: 'd', apiKey: 'k', baseUrl: 'https://access.tryterra.co/api/v2' });`,
};
const built = await Promise.all(
  Object.entries(variants).map(async ([name, source]) => ({ name, ...(await bundle(name, source, dir)) })),
);
const times = importTimes(
  built.map((variant) => variant.file),
  samples,
);
const rows = built.map((variant) => {
  const sample = times.get(variant.file) ?? [];
  return {
    variant: variant.name,
    medianMs: Number(percentile(sample, 50).toFixed(2)),
    p90Ms: Number(percentile(sample, 90).toFixed(2)),
    bytes: variant.bytes,
    zipBytes: variant.zipBytes,
  };
});
const { cpu, node } = machine();
console.log(`Terra client cold start · ${cpu} · node ${node} · ${samples} samples per variant`);
console.table(rows);
