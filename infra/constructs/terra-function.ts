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
  ParamsAndSecretsLayerVersion,
  ParamsAndSecretsLogLevel,
  ParamsAndSecretsVersions,
  Runtime,
} from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** The repository root, where `functions/` and `package-lock.json` live. */
export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A function's entry file, as the stack bundles it. */
export const functionEntry = (entry: string): string => join(PROJECT_ROOT, 'functions', `${entry}.ts`);

/**
 * How every function is bundled (esbuild through NodejsFunction). Exported so the benchmark builds the
 * very same bundles the stack deploys.
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
  readonly function: NodejsFunction;
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

    this.function = new NodejsFunction(this, 'Function', {
      entry: functionEntry(props.entry),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
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
      bundling: { ...BUNDLING, mainFields: [...BUNDLING.mainFields] },
    });
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Node.js 22 is the runtime the handlers are tested and benchmarked on; 24 is a one-line change here once verified.',
    });
  }
}
