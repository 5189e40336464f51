import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '#shared/events/schemas';
import { FUNCTION_ENTRIES } from '#shared/handlers/manifest';
import { ROUTES } from '#shared/http/routes';
import { connectionsTableInput, inboxTableInput } from '#shared/store/tables';
import { bundleSizes } from '../../infra/report-bundles.ts';

/**
 * The package as an app gets it: `npm pack` (which builds it), the tarball installed into a scratch CDK
 * app of its own in a temporary directory, beside aws-cdk-lib, constructs and cdk-nag at the versions
 * this repository uses and nothing of this repository (no node_modules above it, no sources). There the
 * README's "Use it in your app" code is type-checked, its stack synthesized with cdk-nag, and the
 * consumer helper loaded.
 */
const ROOT = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

const installedVersion = (name: string): string =>
  (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string })
    .version;

/** The package.json the scratch app installed. */
const installedManifest = (): { dependencies?: Record<string, string> } =>
  JSON.parse(readFileSync(join(app, 'node_modules', 'terra-connect', 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
  };

/** The fenced TypeScript blocks of the README section under `## <title>`. */
function snippets(title: string): string[] {
  const start = README.indexOf(`\n## ${title}\n`);
  const end = README.indexOf('\n## ', start + 1);
  const section = README.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1] ?? '');
}

interface Packed {
  filename: string;
  size: number;
  unpackedSize: number;
  files: Array<{ path: string }>;
}

let work: string;
let app: string;
let packed: Packed;
let outdir: string;
let template: Template;
let violations: string[];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'terra-packed-'));
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], {
    cwd: ROOT,
    maxBuffer: 64 * 1024 * 1024,
  });
  // prepack's own output comes first; npm's JSON answer is the last thing printed.
  packed = (JSON.parse(stdout.slice(stdout.lastIndexOf('\n[\n') + 1)) as Packed[])[0] as Packed;

  app = join(work, 'app');
  await run('mkdir', ['-p', app]);
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'scratch-app', private: true, type: 'module' }),
  );
  await run(
    'npm',
    [
      'install',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      join(work, packed.filename),
      ...['aws-cdk-lib', 'constructs', 'cdk-nag', '@types/node'].map(
        (name) => `${name}@${installedVersion(name)}`,
      ),
    ],
    { cwd: app, maxBuffer: 64 * 1024 * 1024 },
  );

  // The README's code as files of the app, and the app's entry point synthesizing its stack.
  const code = snippets('Use it in your app');
  for (const [index, text] of code.entries()) writeFileSync(join(app, `readme-${index + 1}.ts`), text);
  const stackFile = code.findIndex((text) => text.includes('export class MyAppStack'));
  writeFileSync(
    join(app, 'main.ts'),
    [
      "import { App, Stack, Validations } from 'aws-cdk-lib';",
      "import { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';",
      "import { AwsSolutionsChecks } from 'cdk-nag';",
      `import { MyAppStack } from './readme-${stackFile + 1}.js';`,
      '',
      'const app = new App();',
      "const env = { account: '123456789012', region: 'eu-west-1' };",
      "const consumers = new Stack(app, 'Consumers', { env });",
      "const onTerraEvent = LambdaFunction.fromFunctionArn(consumers, 'OnTerraEvent', 'arn:aws:lambda:eu-west-1:123456789012:function:on-terra-event');",
      "Validations.of(consumers).acknowledge({ id: 'CloudFormation-Validate::F0001', reason: 'Only imports the app’s consumer function: no resource of its own.' });",
      "new MyAppStack(app, 'MyApp', { env, onTerraEvent });",
      'Validations.of(app).addPlugins(new AwsSolutionsChecks(app));',
      'app.synth();',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2023',
        lib: ['ES2023'],
        module: 'nodenext',
        moduleResolution: 'nodenext',
        types: ['node'],
        strict: true,
        skipLibCheck: true,
        outDir: 'out',
      },
      include: ['*.ts'],
    }),
  );

  // This repository's TypeScript is only the compiler: what it resolves, it resolves from the app.
  await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', app], { cwd: app }).catch(
    (error: { stdout?: string }) => {
      throw new Error(`tsc in the scratch app:\n${error.stdout ?? String(error)}`);
    },
  );

  // As `cdk synth` runs an app: the output directory and the metadata the CLI asks for, by environment.
  outdir = join(app, 'cdk.out');
  await run(process.execPath, [join(app, 'out', 'main.js')], {
    cwd: app,
    env: {
      ...process.env,
      CDK_OUTDIR: outdir,
      CDK_CONTEXT_JSON: JSON.stringify({
        'aws:cdk:enable-path-metadata': true,
        'aws:cdk:enable-asset-metadata': true,
      }),
    },
  });
  template = Template.fromJSON(JSON.parse(readFileSync(join(outdir, 'MyApp.template.json'), 'utf8')));
  const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as {
    pluginReports: Array<{ conclusion: string; violations: Array<{ ruleName: string }> }>;
  };
  violations = report.pluginReports.flatMap((plugin) => plugin.violations.map((v) => v.ruleName));
}, 900_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('npm pack', () => {
  it('ships the built entries, their declarations and the prebuilt functions, and no sources', () => {
    const paths = packed.files.map((file) => file.path).sort();
    expect(paths.filter((path) => !path.startsWith('dist/') && !path.startsWith('schemas/'))).toEqual([
      'README.md',
      'package.json',
    ]);
    expect(paths.filter((path) => path.startsWith('schemas/'))).toEqual(
      EVENT_TYPES.map((type) => `schemas/events/${type}.json`).sort(),
    );
    expect(paths).toEqual(
      expect.arrayContaining([
        'dist/cdk/index.js',
        'dist/cdk/index.d.ts',
        'dist/client/index.js',
        'dist/client/index.d.ts',
        'dist/consumer/index.js',
        'dist/consumer/index.d.ts',
        'dist/events/index.js',
        'dist/events/index.d.ts',
        ...FUNCTION_ENTRIES.map((entry) => `dist/functions/${entry}/index.mjs`),
      ]),
    );
    console.log(`${packed.filename}: ${packed.size} bytes packed, ${packed.unpackedSize} unpacked`);
  });

  it('leaves no alias or source path in the shipped code and declarations', () => {
    const pkg = join(app, 'node_modules', 'terra-connect');
    for (const file of [
      'dist/cdk/index.js',
      'dist/cdk/index.d.ts',
      'dist/client/index.js',
      'dist/client/index.d.ts',
      'dist/consumer/index.js',
      'dist/consumer/index.d.ts',
      'dist/events/index.js',
      'dist/events/index.d.ts',
    ]) {
      const text = readFileSync(join(pkg, file), 'utf8');
      expect(text, file).not.toMatch(/#shared\/|#local\/|from ['"][^'"]+\.ts['"]/);
    }
  });
});

describe('a scratch CDK app with the tarball installed', () => {
  it('stands alone: no esbuild, and none of this repository’s dependencies but what the package declares', () => {
    const declared = Object.keys(installedManifest().dependencies ?? {});
    expect(declared.sort()).toEqual(['@aws-sdk/client-s3', 'openapi-fetch', 'zod']);
    const modules = readdirSync(join(app, 'node_modules'));
    expect(modules).not.toContain('esbuild');
    expect(existsSync(join(app, 'node_modules', '@aws-lambda-powertools'))).toBe(false);
  });

  it('synthesizes the README’s stack with no unacknowledged cdk-nag finding', () => {
    expect(violations).toEqual([]);
  });

  it('is really checking there: cdk-nag fails a careless bucket in the same app', async () => {
    const script = [
      "import { App, Stack, Validations } from 'aws-cdk-lib';",
      "import { Bucket } from 'aws-cdk-lib/aws-s3';",
      "import { AwsSolutionsChecks } from 'cdk-nag';",
      'const app = new App();',
      "new Bucket(new Stack(app, 'Careless'), 'Open');",
      'Validations.of(app).addPlugins(new AwsSolutionsChecks(app));',
      'app.synth();',
    ].join('\n');
    const failed = await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: app,
      env: { ...process.env, CDK_OUTDIR: join(work, 'careless.out') },
    }).then(
      () => '',
      (error: { stdout?: string; stderr?: string }) => `${error.stdout ?? ''}${error.stderr ?? ''}`,
    );
    expect(failed).toMatch(/AwsSolutions-S1/);
  });

  it('deploys every function from the bundle the package ships', () => {
    const rows = bundleSizes(outdir, 'MyApp');
    expect(rows.map((row) => row.function).sort()).toEqual(FUNCTION_ENTRIES.sort());
    const shipped = (entry: string) =>
      createHash('sha256')
        .update(readFileSync(join(app, 'node_modules/terra-connect/dist/functions', entry, 'index.mjs')))
        .digest('hex');
    const functions = template.findResources('AWS::Lambda::Function') as Record<
      string,
      { Metadata: Record<string, string> }
    >;
    for (const fn of Object.values(functions)) {
      const entry = fn.Metadata['aws:cdk:path']?.split('/').at(-3) ?? '';
      const asset = join(outdir, fn.Metadata['aws:asset:path'] ?? '', 'index.mjs');
      expect(createHash('sha256').update(readFileSync(asset)).digest('hex'), entry).toBe(shipped(entry));
    }
    console.log('Function bundles in the scratch app (prebuilt):');
    console.table(rows);
  });

  it('keys the tables as promised: connections by reference_id and user_id, byUserId keys-only, streams', () => {
    const connections = connectionsTableInput('x');
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: connections.KeySchema,
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byUserId',
          KeySchema: connections.GlobalSecondaryIndexes?.[0]?.KeySchema,
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
      StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
    });
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: inboxTableInput('x').KeySchema,
      TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
      StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
    });
  });

  it.each(ROUTES.map((route) => [`${route.method} ${route.path}`, route.auth] as const))(
    'routes %s (authorizer %s)',
    (routeKey, auth) => {
      template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
        RouteKey: routeKey,
        AuthorizationType: auth === 'jwt' ? 'JWT' : 'NONE',
      });
    },
  );

  it('wires the README’s rule on the bus to the app’s function, and its output', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['terra-connect'], 'detail-type': ['terra.data', 'terra.user_deleted'] },
      Targets: [{ Arn: 'arn:aws:lambda:eu-west-1:123456789012:function:on-terra-event', Id: 'Target0' }],
    });
    expect(Object.keys(template.findOutputs('TerraWebhookUrl'))).toEqual(['TerraWebhookUrl']);
  });

  it('loads terra-connect/consumer and reads an inline payload with it', async () => {
    const script = [
      "import { payloadOf } from 'terra-connect/consumer';",
      "const detail = { id: 'd', data: { type: 'sleep', user: { user_id: 'u-1' } } };",
      'const payload = await payloadOf(detail, () => { throw new Error("no archive read for inline data"); });',
      'console.log(JSON.stringify(payload));',
    ].join('\n');
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: app });
    expect(JSON.parse(stdout)).toEqual({ type: 'sleep', user: { user_id: 'u-1' } });
  });

  it('loads terra-connect/events: its JSON Schemas are the shipped files, its zod schemas check an event', async () => {
    const script = [
      "import { readFileSync } from 'node:fs';",
      "import { createRequire } from 'node:module';",
      "import { EVENT_TYPES, envelopeSchema, eventJsonSchema } from 'terra-connect/events';",
      'const require = createRequire(import.meta.url);',
      'const same = EVENT_TYPES.every((type) => JSON.stringify(eventJsonSchema(type)) ===',
      "  JSON.stringify(JSON.parse(readFileSync(require.resolve('terra-connect/schemas/events/' + type + '.json'), 'utf8'))));",
      "const bad = envelopeSchema('terra.user_deleted').safeParse({ 'detail-type': 'terra.user_deleted', detail: {} });",
      'console.log(JSON.stringify({ types: EVENT_TYPES, same, rejected: !bad.success }));',
    ].join('\n');
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: app });
    expect(JSON.parse(stdout)).toEqual({ types: EVENT_TYPES, same: true, rejected: true });
  });

  it('loads terra-connect/client and sends the token on a typed call', async () => {
    const script = [
      "import { createTerraConnectClient, ok } from 'terra-connect/client';",
      'const seen = [];',
      'const fetch = async (request) => { seen.push([request.method, new URL(request.url).pathname, request.headers.get("authorization")]);',
      "  return new Response(JSON.stringify({ connections: [] }), { headers: { 'content-type': 'application/json' } }); };",
      "const api = createTerraConnectClient({ baseUrl: 'https://api.example.com', token: async () => 't-1', fetch });",
      "const { data } = ok(await api.GET('/connections'));",
      'console.log(JSON.stringify({ data, seen }));',
    ].join('\n');
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: app });
    expect(JSON.parse(stdout)).toEqual({
      data: { connections: [] },
      seen: [['GET', '/connections', 'Bearer t-1']],
    });
  });
});
