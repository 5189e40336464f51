import { type AwsService, startAwsStandIn } from '../../test/helpers/aws-stand-in.ts';
import { track } from './children.ts';
import type { StackFunction } from './stack.ts';

/**
 * A function's environment as Lambda would give it, on this machine: the variables the stack sets
 * (read from the synthesized template), the ones it resolves at deploy time (table names, the secret's
 * ARN, the bucket) replaced by their local counterparts, the variables Lambda itself sets, fixed
 * dummy credentials, and the SDK pointed at the AWS stand-in (test/helpers/aws-stand-in.ts) through its
 * endpoint variables. No variable of the shell running the benchmark reaches the function (no
 * NODE_OPTIONS, no extra CA certificates).
 */

/** Credentials the stand-in accepts and the SDK signs with (nothing checks the signature). */
export const DUMMY_AWS = {
  AWS_ACCESS_KEY_ID: 'ASIABENCHMARKONLY000',
  AWS_SECRET_ACCESS_KEY: 'bench/only/not/a/real/secret/key/000000',
  AWS_SESSION_TOKEN: 'bench-session-token',
  AWS_REGION: 'us-east-1',
  AWS_DEFAULT_REGION: 'us-east-1',
} as const;

export interface LocalAws {
  /** DynamoDB Local, through AWS_ENDPOINT_URL_DYNAMODB: the code's AWS path, not its local-mode switch. */
  dynamoEndpoint: string;
  tables: { connectionsTable: string; inboxTable: string };
  secretArn: string;
  /** The AWS stand-in's endpoint variables (AWS_ENDPOINT_URL_<SERVICE>) and the extension's port. */
  endpoints: Record<string, string>;
  bucket: string;
  busName: string;
  queueUrl: string;
  /** The Terra stand-in (the sandbox). */
  terra: { apiUrl: string; widgetSessionUrl: string };
}

/** Local values for what the stack resolves at deploy time, by variable name. */
const LOCAL_VALUES: Record<string, (aws: LocalAws) => string | undefined> = {
  CONNECTIONS_TABLE: (aws) => aws.tables.connectionsTable,
  INBOX_TABLE: (aws) => aws.tables.inboxTable,
  TERRA_SECRET_ARN: (aws) => aws.secretArn,
  ARCHIVE_BUCKET: (aws) => aws.bucket,
  EVENT_BUS_NAME: (aws) => aws.busName,
  DEAD_LETTER_QUEUE_URL: (aws) => aws.queueUrl,
};

/** What Lambda sets for every Node.js 22 function (the handler and log names are plausible, not read). */
export function lambdaRuntimeEnv(name: string, memoryMb: number): Record<string, string> {
  return {
    PATH: '/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin',
    LANG: 'en_US.UTF-8',
    TZ: ':UTC',
    _HANDLER: 'index.handler',
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    AWS_LAMBDA_FUNCTION_NAME: `TerraConnect-${name}`,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memoryMb),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/TerraConnect-${name}`,
    AWS_LAMBDA_LOG_STREAM_NAME: '2026/12/01/[$LATEST]0123456789abcdef0123456789abcdef',
    ...DUMMY_AWS,
  };
}

export interface FunctionEnv {
  env: Record<string, string>;
  /** Deploy-time variables with no local value: the function cannot run here as deployed. */
  unresolved: string[];
}

export function deployedEnv(fn: StackFunction, aws: LocalAws): FunctionEnv {
  const env: Record<string, string> = lambdaRuntimeEnv(fn.entry, fn.memoryMb);
  const unresolved: string[] = [];
  for (const [name, value] of Object.entries(fn.environment)) {
    const local = value ?? LOCAL_VALUES[name]?.(aws);
    if (local === undefined) unresolved.push(name);
    else env[name] = local;
  }
  // The stand-in last: each run's own port wins over fixed ones the stack sets (the extension's 2773).
  Object.assign(env, { AWS_ENDPOINT_URL_DYNAMODB: aws.dynamoEndpoint }, aws.endpoints);
  // Terra is the sandbox here, whatever the stack's context says.
  env.TERRA_API_URL = aws.terra.apiUrl;
  env.TERRA_WIDGET_SESSION_URL = aws.terra.widgetSessionUrl;
  return { env, unresolved };
}

/**
 * Where the functions can read Terra's secret from. Every run serves all of them (BENCH_SECRET_SOURCE
 * narrows it), so whichever way the code reads, it is answered, and the report says which one was read.
 * The extension answers from memory: its own first fetch from Secrets Manager, during the cold start,
 * is not modelled.
 */
export const SECRET_SOURCES: Record<string, { service: AwsService; describe: string }> = {
  'lambda-extension': {
    service: 'secrets-extension',
    describe:
      'the Parameters and Secrets Lambda Extension (GET /secretsmanager/get, token header), through PARAMETERS_SECRETS_EXTENSION_HTTP_PORT',
  },
  'secrets-manager': {
    service: 'secretsmanager',
    describe: 'Secrets Manager GetSecretValue (JSON 1.1), through AWS_ENDPOINT_URL_SECRETS_MANAGER',
  },
};

const BENCH_SECRET_ARN =
  'arn:aws:secretsmanager:us-east-1:123456789012:secret:TerraConnect-TerraSecret-AbCdEf';
const BENCH_BUCKET = 'terraconnect-archive-bench';
const BENCH_BUS = 'terra-connect-events-bench';

/**
 * The AWS a function meets in a phase, besides DynamoDB: the AWS stand-in serving the secret's sources
 * (`secretSource`: `all`, or a comma-separated list of SECRET_SOURCES), S3 (keeping what is put only
 * with `keepObjects`), EventBridge and SQS. Stopped with the phase, or by a signal.
 */
export async function startBenchAws(options: {
  secretSource: string;
  credentials: { dev_id: string; api_key: string; signing_secret: string };
  keepObjects: boolean;
}) {
  const names =
    options.secretSource === 'all'
      ? Object.keys(SECRET_SOURCES)
      : options.secretSource.split(',').map((name) => name.trim());
  const unknown = names.filter((name) => !SECRET_SOURCES[name]);
  if (unknown.length)
    throw new Error(
      `BENCH_SECRET_SOURCE: unknown ${unknown.join(', ')}; one of all, ${Object.keys(SECRET_SOURCES).join(', ')}`,
    );
  const sources = names.map((name) => ({
    name,
    ...(SECRET_SOURCES[name] as (typeof SECRET_SOURCES)[string]),
  }));
  const aws = await startAwsStandIn({
    services: ['s3', 'events', 'sqs', ...sources.map((source) => source.service)],
    sessionToken: DUMMY_AWS.AWS_SESSION_TOKEN,
    keepObjects: options.keepObjects,
  });
  const stop = track(() => aws.stop());
  aws.secrets.set(BENCH_SECRET_ARN, JSON.stringify(options.credentials));
  aws.buckets.add(BENCH_BUCKET);
  return {
    secretSource: sources.map((source) => `${source.name}: ${source.describe}`).join('; '),
    /** Secret reads answered so far, per source. */
    secretReads: (): Record<string, number> =>
      Object.fromEntries(
        sources.map((source) => [
          source.name,
          aws.callsTo('GetSecretValue', source.service).filter((call) => call.status === 200).length,
        ]),
      ),
    /** Keeps an object in the bucket, as if archived earlier (read back only with `keepObjects`). */
    putObject: (key: string, body: Buffer) => {
      aws.objects.set(`${BENCH_BUCKET}/${key}`, body);
    },
    s3Puts: () => aws.callsTo('PutObject', 's3').length,
    /** Events PutEvents accepted so far. */
    published: () => aws.events.length,
    localAws(dynamoEndpoint: string, tables: LocalAws['tables'], terra: LocalAws['terra']): LocalAws {
      return {
        dynamoEndpoint,
        tables,
        secretArn: BENCH_SECRET_ARN,
        endpoints: aws.env,
        bucket: BENCH_BUCKET,
        busName: BENCH_BUS,
        queueUrl: `${aws.url}/123456789012/terra-connect-dead-letters-bench`,
        terra,
      };
    },
    stop,
  };
}
