import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

/**
 * After `cdk synth`: each function's bundle size, minified and gzipped, so cold-start cost stays in
 * sight on every synth (`npm run bench` turns sizes into measured import times).
 */
interface Resource {
  Type: string;
  Metadata?: Record<string, string>;
}

export interface BundleSize {
  function: string;
  bytes: number;
  zipBytes: number;
}

export function bundleSizes(outDir = 'cdk.out', stack = 'TerraConnect'): BundleSize[] {
  const template = JSON.parse(readFileSync(join(outDir, `${stack}.template.json`), 'utf8')) as {
    Resources: Record<string, Resource>;
  };
  const rows: BundleSize[] = [];
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const path = resource.Metadata?.['aws:cdk:path'] ?? '';
    const asset = resource.Metadata?.['aws:asset:path'];
    // `<stack>/[<construct>/]<function>/Function/Resource`: the function's own id, wherever it sits.
    const name = path.split('/').at(-3) ?? path;
    if (!asset) continue;
    const dir = join(outDir, asset);
    const file = readdirSync(dir).find((entry) => entry.endsWith('.mjs'));
    if (!file) continue;
    const code = readFileSync(join(dir, file));
    rows.push({ function: name, bytes: statSync(join(dir, file)).size, zipBytes: gzipSync(code).length });
  }
  return rows.sort((a, b) => a.function.localeCompare(b.function));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log('Function bundles (minified ES modules, AWS SDK included):');
  console.table(bundleSizes());
}
