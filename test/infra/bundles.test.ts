import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFunction } from '../../infra/build-package.ts';
import { BUNDLE_FILE } from '../../infra/bundling.ts';
import { functionCode, TerraFunction } from '../../infra/constructs/terra-function.ts';

/**
 * The two ways a function's code reaches a template: bundled from source by NodejsFunction (this
 * repository) and prebuilt by the package build (an app that installs the package). Both must deploy the
 * very same bytes, so what the benchmark measures and the tests run is what an app deploys.
 */
const ENTRIES = ['terra-webhook', 'list-providers'] as const;

type Resource = { Type: string; Properties: Record<string, unknown>; Metadata?: Record<string, string> };

let packageRoot: string;
let outdir: string;
let resources: Record<string, Resource>;

/** Stand-in for the installed package: `dist/functions/<entry>/index.mjs` and no `functions/` sources. */
beforeAll(async () => {
  packageRoot = mkdtempSync(join(tmpdir(), 'terra-prebuilt-'));
  for (const entry of ENTRIES) await buildFunction(entry, packageRoot);
  outdir = mkdtempSync(join(tmpdir(), 'terra-cdk-'));
  // What `cdk synth` records and infra/report-bundles.ts reads: each resource's path and asset.
  const app = new App({
    outdir,
    context: { 'aws:cdk:enable-path-metadata': true, 'aws:cdk:enable-asset-metadata': true },
  });
  const stack = new Stack(app, 'Bundles');
  for (const entry of ENTRIES) {
    const common = {
      entry,
      environment: { TERRA_API_URL: 'https://terra.example' },
      logRetention: RetentionDays.ONE_WEEK,
      readsSecret: true,
    };
    new TerraFunction(stack, `${entry}-source`, common);
    new TerraFunction(stack, `${entry}-prebuilt`, { ...common, codeRoot: packageRoot });
  }
  const template = app.synth().getStackByName('Bundles').template as { Resources: Record<string, Resource> };
  resources = template.Resources;
}, 180_000);

afterAll(() => {
  rmSync(packageRoot, { recursive: true, force: true });
  rmSync(outdir, { recursive: true, force: true });
});

/** The Lambda function under a construct id, its properties and the bytes of its asset. */
function deployed(id: string): { properties: Record<string, unknown>; files: string[]; sha256: string } {
  const found = Object.values(resources).find(
    (resource) =>
      resource.Type === 'AWS::Lambda::Function' &&
      resource.Metadata?.['aws:cdk:path'] === `Bundles/${id}/Function/Resource`,
  );
  if (!found?.Metadata?.['aws:asset:path']) throw new Error(`no function ${id} with an asset`);
  const dir = join(outdir, found.Metadata['aws:asset:path']);
  const files = readdirSync(dir);
  const sha256 = createHash('sha256')
    .update(readFileSync(join(dir, BUNDLE_FILE)))
    .digest('hex');
  return { properties: found.Properties, files, sha256 };
}

describe('a function bundled from source and the same function prebuilt by the package build', () => {
  it('uses the source in this repository and the prebuilt bundle where there is no source', () => {
    expect(functionCode('terra-webhook')).toEqual({
      source: expect.stringMatching(/functions\/terra-webhook\.ts$/),
    });
    expect(functionCode('terra-webhook', packageRoot)).toEqual({
      prebuilt: join(packageRoot, 'dist', 'functions', 'terra-webhook'),
    });
    expect(() => functionCode('publisher', packageRoot)).toThrow(/npm run build/);
  });

  it.each(ENTRIES)(
    '%s: deploys the same bytes, under the same asset hash, with the same settings',
    (entry) => {
      const source = deployed(`${entry}-source`);
      const prebuilt = deployed(`${entry}-prebuilt`);
      expect(source.files).toEqual([BUNDLE_FILE]);
      expect(prebuilt.files).toEqual([BUNDLE_FILE]);
      expect(prebuilt.sha256).toBe(source.sha256);
      // Same bytes, same S3 key, same handler, runtime, layers, environment: the same resource.
      expect(prebuilt.properties).toEqual({
        ...source.properties,
        Role: expect.anything(),
        LoggingConfig: expect.anything(),
      });
      expect(prebuilt.properties.Code).toEqual(source.properties.Code);
    },
  );
});
