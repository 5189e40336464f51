import type { StackFunction } from './stack.ts';
import { DUMMY_AWS } from './stand-ins.ts';

/**
 * A function's environment as Lambda would give it, on this machine: the variables the stack sets
 * (read from the synthesized template), the ones it resolves at deploy time (table names, the secret's
 * ARN, the bucket) replaced by their local counterparts, the variables Lambda itself sets, fixed
 * dummy credentials, and the SDK pointed at the local stand-ins through its endpoint variables. No
 * variable of the shell running the benchmark reaches the function (no NODE_OPTIONS, no extra CA
 * certificates).
 */
export interface LocalAws {
  /** DynamoDB Local, through AWS_ENDPOINT_URL_DYNAMODB: the code's AWS path, not its local-mode switch. */
  dynamoEndpoint: string;
  tables: { connectionsTable: string; inboxTable: string };
  secretArn: string;
  /** The stand-ins' endpoint variables (AWS_ENDPOINT_URL_<SERVICE>) and what the secret sources need. */
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
  // The stand-ins last: each run's own ports win over fixed ones the stack sets (the extension's 2773).
  Object.assign(env, { AWS_ENDPOINT_URL_DYNAMODB: aws.dynamoEndpoint }, aws.endpoints);
  // Terra is the sandbox here, whatever the stack's context says.
  env.TERRA_API_URL = aws.terra.apiUrl;
  env.TERRA_WIDGET_SESSION_URL = aws.terra.widgetSessionUrl;
  return { env, unresolved };
}
