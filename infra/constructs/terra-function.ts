import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import {
  Effect,
  type IGrantable,
  type IPrincipal,
  PolicyStatement,
  Role,
  ServicePrincipal,
} from 'aws-cdk-lib/aws-iam';
import {
  Architecture,
  Code,
  Function as LambdaFunction,
  ParamsAndSecretsLayerVersion,
  ParamsAndSecretsLogLevel,
  ParamsAndSecretsVersions,
  Runtime,
} from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { BUNDLE_FILE, BUNDLING } from '../bundling.ts';

/**
 * The repository root, where `functions/` and `package-lock.json` live; in the installed package, its
 * root, where `dist/functions/` is (the built construct, `dist/cdk/index.js`, sits as deep as this file).
 */
export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A function's entry file, as the stack bundles it. */
export const functionEntry = (entry: string): string => join(PROJECT_ROOT, 'functions', `${entry}.ts`);

/** Where the package ships each function prebuilt: `dist/functions/<entry>/index.mjs` (npm run build). */
export const prebuiltDir = (entry: string, root = PROJECT_ROOT): string =>
  join(root, 'dist', 'functions', entry);

/**
 * A function's code: bundled from its source where the source is (this repository: `npm run synth`,
 * the tests, the benchmark), else the bundle the package ships, built from the same source with the same
 * options (infra/build-package.ts), so an app that installs the package needs neither our sources nor
 * esbuild at synth. The source wins when both exist, so an edit is never shadowed by an old build.
 */
export type FunctionCode = { source: string } | { prebuilt: string };

export function functionCode(entry: string, root = PROJECT_ROOT): FunctionCode {
  const source = join(root, 'functions', `${entry}.ts`);
  if (existsSync(source)) return { source };
  const prebuilt = prebuiltDir(entry, root);
  if (existsSync(join(prebuilt, BUNDLE_FILE))) return { prebuilt };
  throw new Error(
    `No code for function '${entry}': neither its source ${source} nor its prebuilt bundle ${join(prebuilt, BUNDLE_FILE)} exists. The package must be built (npm run build) before it is packed.`,
  );
}

export interface TerraFunctionProps {
  /** Entry file under `functions/`, without extension. */
  entry: string;
  environment: Record<string, string>;
  /** Default 10 s; the webhook sets less, to stay well inside Terra's 8 s window. */
  timeout?: Duration;
  memorySize?: number;
  logRetention: RetentionDays;
  /** A concurrency budget of its own (default: the account's unreserved pool). */
  reservedConcurrency?: number;
  /**
   * Reads the Terra secret: through AWS's Parameters and Secrets Lambda Extension (a layer with its
   * own cache), so the bundle needs no Secrets Manager client (docs/decisions/0017-…).
   */
  readsSecret?: boolean;
  /** Where `functions/` or `dist/functions/` is: this package's root unless a test says otherwise. */
  codeRoot?: string;
}

/** The extension as every secret-reading function runs it: cached, refreshed as the code refreshes. */
const SECRETS_EXTENSION = ParamsAndSecretsLayerVersion.fromVersion(ParamsAndSecretsVersions.V1_0_103, {
  cacheEnabled: true,
  cacheSize: 10,
  secretsManagerTtl: Duration.minutes(5),
  logLevel: ParamsAndSecretsLogLevel.WARN,
});

/**
 * One Lambda with the defaults every function here shares: an ES module bundle (esbuild, minified,
 * the AWS SDK bundled: the runtime's own loads about twice as slowly), Node.js 22 on ARM64,
 * its own log group with retention, and a role that may write to that log group and nothing else
 * until the stack grants it more.
 */
export class TerraFunction extends Construct implements IGrantable {
  readonly function: LambdaFunction;
  readonly logGroup: LogGroup;
  readonly grantPrincipal: IPrincipal;

  constructor(scope: Construct, id: string, props: TerraFunctionProps) {
    super(scope, id);
    this.logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new Role(this, 'Role', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    this.grantPrincipal = role;
    role.addToPolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5',
      reason:
        'Log streams are created per execution environment; the grant is scoped to this function’s log group.',
    });

    const settings = {
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(10),
      ...(props.reservedConcurrency ? { reservedConcurrentExecutions: props.reservedConcurrency } : {}),
      ...(props.readsSecret ? { paramsAndSecrets: SECRETS_EXTENSION } : {}),
      role,
      logGroup: this.logGroup,
      environment: {
        POWERTOOLS_SERVICE_NAME: 'terra-connect',
        ...props.environment,
      },
    };
    const code = functionCode(props.entry, props.codeRoot);
    this.function =
      'source' in code
        ? new NodejsFunction(this, 'Function', {
            ...settings,
            entry: code.source,
            handler: 'handler',
            projectRoot: PROJECT_ROOT,
            depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
            bundling: { ...BUNDLING, mainFields: [...BUNDLING.mainFields] },
          })
        : // NodejsFunction's asset is the bundle alone, its handler `index.handler`: the same here.
          new LambdaFunction(this, 'Function', {
            ...settings,
            code: Code.fromAsset(code.prebuilt),
            handler: 'index.handler',
          });
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Node.js 22 is the runtime the handlers are tested and benchmarked on; 24 is a one-line change here once verified.',
    });
  }
}
