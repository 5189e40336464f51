import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { track } from './children.ts';
import type { LocalAws } from './lambda-env.ts';

/**
 * Local stand-ins for the AWS services the functions call besides DynamoDB, so that a cold start
 * includes the real SDK path (client construction, signing, the request) and not a shortcut. The SDK
 * reaches each through its endpoint variable (AWS_ENDPOINT_URL_<SERVICE>); each listens on a free
 * loopback port of its own and is stopped with the phase that started it:
 * - where Terra's credentials come from (`SECRET_SOURCES`): AWS's Parameters and Secrets Lambda
 *   Extension, and Secrets Manager's own JSON protocol;
 * - S3 (PutObject, and GetObject of what was put when asked to keep it), the archive;
 * - EventBridge PutEvents and SQS SendMessageBatch, where the publisher sends the app's events and the
 *   ones refused.
 */

/** Credentials the stand-ins accept and the SDK signs with (nothing checks the signature). */
export const DUMMY_AWS = {
  AWS_ACCESS_KEY_ID: 'ASIABENCHMARKONLY000',
  AWS_SECRET_ACCESS_KEY: 'bench/only/not/a/real/secret/key/000000',
  AWS_SESSION_TOKEN: 'bench-session-token',
  AWS_REGION: 'us-east-1',
  AWS_DEFAULT_REGION: 'us-east-1',
} as const;

type Handle = (request: IncomingMessage, body: Buffer, response: ServerResponse) => void;

async function listen(
  handle: Handle,
  at: { host: string; port: number } = { host: '127.0.0.1', port: 0 },
): Promise<{ url: string; stop: () => Promise<void> }> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => handle(request, Buffer.concat(chunks), response));
  });
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(at.port, at.host, () => done());
  });
  const stop = track(
    () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  );
  const host = at.host.includes(':') ? `[${at.host}]` : at.host;
  return { url: `http://${host}:${(server.address() as AddressInfo).port}`, stop };
}

type Operation = (input: Record<string, unknown>) => { status: number; body: unknown };

/** An AWS JSON-protocol service (`X-Amz-Target: <prefix>.<Operation>`), answering only `operations`. */
async function jsonService(contentType: string, operations: Record<string, Operation>) {
  const calls = new Map<string, number>();
  const server = await listen((request, body, response) => {
    const answer = (status: number, payload: unknown) =>
      response.writeHead(status, { 'content-type': contentType }).end(JSON.stringify(payload));
    const target = String(request.headers['x-amz-target'] ?? '');
    const operation = operations[target];
    if (request.method !== 'POST' || !operation)
      return answer(400, { __type: 'UnknownOperationException', message: `not served here: ${target}` });
    let input: Record<string, unknown>;
    try {
      input = JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>;
    } catch {
      return answer(400, { __type: 'SerializationException', message: 'not JSON' });
    }
    calls.set(target, (calls.get(target) ?? 0) + 1);
    const { status, body: payload } = operation(input);
    answer(status, payload);
  });
  return { url: server.url, calls: (target: string) => calls.get(target) ?? 0, stop: server.stop };
}

/** One secret: its ARN (what TERRA_SECRET_ARN names) and its SecretString. */
export interface SecretValue {
  arn: string;
  value: string;
}

export interface RunningSecretSource {
  /** What a function's environment needs to read the secret from this source. */
  env: Record<string, string>;
  /** Reads answered so far. */
  reads(): number;
  stop(): Promise<void>;
}

/**
 * A place the functions can read Terra's secret from; SECRET_SOURCES lists them, and every run starts
 * all of them (BENCH_SECRET_SOURCE narrows it), so whichever way the code reads, it is answered, and
 * the report says which one was read. To add one, implement `start` and add it to SECRET_SOURCES.
 */
export interface SecretSource {
  describe: string;
  start(secret: SecretValue): Promise<RunningSecretSource>;
}

const GET_SECRET = 'secretsmanager.GetSecretValue';

const secretValueOf = (secret: SecretValue, created: number) => ({
  ARN: secret.arn,
  Name: secret.arn.split(':secret:')[1] ?? 'terra',
  VersionId: '00000000-0000-4000-8000-000000000001',
  SecretString: secret.value,
  VersionStages: ['AWSCURRENT'],
  CreatedDate: created,
});

const secretsManager: SecretSource = {
  describe: 'Secrets Manager GetSecretValue (JSON 1.1), through AWS_ENDPOINT_URL_SECRETS_MANAGER',
  async start(secret) {
    const created = Math.floor(Date.now() / 1000);
    const service = await jsonService('application/x-amz-json-1.1', {
      [GET_SECRET]: (input) =>
        input.SecretId !== secret.arn
          ? {
              status: 400,
              body: {
                __type: 'ResourceNotFoundException',
                message: "Secrets Manager can't find the specified secret.",
              },
            }
          : { status: 200, body: secretValueOf(secret, created) },
    });
    return {
      env: { AWS_ENDPOINT_URL_SECRETS_MANAGER: service.url },
      reads: () => service.calls(GET_SECRET),
      stop: service.stop,
    };
  },
};

/**
 * AWS's Parameters and Secrets Lambda Extension: `GET /secretsmanager/get?secretId=…` on localhost,
 * the session token in `X-Aws-Parameters-Secrets-Token`, the GetSecretValue JSON back. On a free port
 * of its own (PARAMETERS_SECRETS_EXTENSION_HTTP_PORT), loopback IPv4 and IPv6, as `localhost` may be
 * either. It answers from memory: the real extension's own first fetch from Secrets Manager, during
 * the cold start, is not modelled.
 */
const lambdaExtension: SecretSource = {
  describe:
    'the Parameters and Secrets Lambda Extension (GET /secretsmanager/get, token header), through PARAMETERS_SECRETS_EXTENSION_HTTP_PORT',
  async start(secret) {
    let reads = 0;
    const created = Math.floor(Date.now() / 1000);
    const handle: Handle = (request, _body, response) => {
      const url = new URL(request.url ?? '/', 'http://localhost');
      const answer = (status: number, payload: unknown) =>
        response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
      if (request.headers['x-aws-parameters-secrets-token'] !== DUMMY_AWS.AWS_SESSION_TOKEN)
        return answer(401, { message: 'not authorized: X-Aws-Parameters-Secrets-Token' });
      if (request.method !== 'GET' || url.pathname !== '/secretsmanager/get')
        return answer(404, { message: `not served here: ${url.pathname}` });
      if (url.searchParams.get('secretId') !== secret.arn)
        return answer(400, { message: 'ResourceNotFoundException' });
      reads++;
      answer(200, secretValueOf(secret, created));
    };
    const v4 = await listen(handle);
    const port = Number(new URL(v4.url).port);
    const v6 = await listen(handle, { host: '::1', port }).catch(() => undefined);
    return {
      env: { PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: String(port) },
      reads: () => reads,
      stop: async () => {
        await v4.stop();
        await v6?.stop();
      },
    };
  },
};

export const SECRET_SOURCES: Record<string, SecretSource> = {
  'lambda-extension': lambdaExtension,
  'secrets-manager': secretsManager,
};

/** The secret sources `filter` names (`all`, or a comma-separated list), all started, reads counted per source. */
export async function startSecretSources(filter: string, secret: SecretValue) {
  const names = filter === 'all' ? Object.keys(SECRET_SOURCES) : filter.split(',').map((name) => name.trim());
  const unknown = names.filter((name) => !SECRET_SOURCES[name]);
  if (unknown.length)
    throw new Error(
      `BENCH_SECRET_SOURCE: unknown ${unknown.join(', ')}; one of all, ${Object.keys(SECRET_SOURCES).join(', ')}`,
    );
  const running = new Map<string, RunningSecretSource>();
  for (const name of names) running.set(name, await (SECRET_SOURCES[name] as SecretSource).start(secret));
  return {
    describe: names.map((name) => `${name}: ${SECRET_SOURCES[name]?.describe}`).join('; '),
    env: Object.assign({}, ...[...running.values()].map((source) => source.env)) as Record<string, string>,
    reads: () =>
      Object.fromEntries([...running].map(([name, source]) => [name, source.reads()])) as Record<
        string,
        number
      >,
    stop: async () => {
      for (const source of running.values()) await source.stop();
    },
  };
}

export type SecretSources = Awaited<ReturnType<typeof startSecretSources>>;

export interface S3StandIn {
  env: Record<string, string>;
  bucket: string;
  puts(): number;
  /** Keeps an object, as if archived earlier (only when started with `keep`). */
  put(key: string, body: Buffer): void;
  stop(): Promise<void>;
}

/**
 * PutObject (path-style: the SDK uses it for an IP endpoint), and GetObject of what it keeps when
 * `keep` is set (the memory run keeps nothing). Anything else answers 501, so a function that starts
 * using more of S3 shows up.
 */
export async function startS3(options: { keep: boolean; bucket?: string }): Promise<S3StandIn> {
  const bucket = options.bucket ?? 'terraconnect-archive-bench';
  const objects = new Map<string, Buffer>();
  let puts = 0;
  const prefix = `/${bucket}/`;
  const server = await listen((request, body, response) => {
    const key = request.url?.startsWith(prefix)
      ? decodeURIComponent(request.url.slice(prefix.length).split('?')[0] ?? '')
      : undefined;
    if (request.method === 'PUT' && key !== undefined) {
      puts++;
      if (options.keep) objects.set(key, body);
      const etag = `"${createHash('md5').update(body).digest('hex')}"`;
      return response.writeHead(200, { etag, 'content-length': '0' }).end();
    }
    if (request.method === 'GET' && key !== undefined) {
      const object = objects.get(key);
      if (object)
        return response
          .writeHead(200, { 'content-type': 'application/json', 'content-length': object.length })
          .end(object);
      return response
        .writeHead(404, { 'content-type': 'application/xml' })
        .end('<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>');
    }
    response
      .writeHead(501, { 'content-type': 'application/xml' })
      .end(
        '<Error><Code>NotImplemented</Code><Message>bench S3 stand-in: PutObject and GetObject only</Message></Error>',
      );
  });
  return {
    env: { AWS_ENDPOINT_URL_S3: server.url },
    bucket,
    puts: () => puts,
    put: (key, body) => {
      objects.set(key, body);
    },
    stop: server.stop,
  };
}

const PUT_EVENTS = 'AWSEvents.PutEvents';

/** EventBridge PutEvents (every entry accepted, counted) and SQS SendMessageBatch (the dead letters). */
export async function startEventDelivery() {
  let published = 0;
  const events = await jsonService('application/x-amz-json-1.1', {
    [PUT_EVENTS]: (input) => {
      const entries = Array.isArray(input.Entries) ? input.Entries : [];
      published += entries.length;
      return {
        status: 200,
        body: { FailedEntryCount: 0, Entries: entries.map(() => ({ EventId: randomUUID() })) },
      };
    },
  });
  let entries = 0;
  const sqs = await jsonService('application/x-amz-json-1.0', {
    'AmazonSQS.SendMessageBatch': (input) => {
      const batch = Array.isArray(input.Entries) ? (input.Entries as Array<{ Id?: string }>) : [];
      entries += batch.length;
      return {
        status: 200,
        body: {
          Successful: batch.map((entry) => ({
            Id: entry.Id,
            MessageId: randomUUID(),
            MD5OfMessageBody: '0'.repeat(32),
          })),
          Failed: [],
        },
      };
    },
  });
  return {
    env: { AWS_ENDPOINT_URL_EVENTBRIDGE: events.url, AWS_ENDPOINT_URL_SQS: sqs.url },
    busName: 'terra-connect-events-bench',
    queueUrl: `${sqs.url}/123456789012/terra-connect-dead-letters-bench`,
    putEventsCalls: () => events.calls(PUT_EVENTS),
    /** Entries accepted so far. */
    published: () => published,
    deadLetters: () => entries,
    stop: async () => {
      await events.stop();
      await sqs.stop();
    },
  };
}

export type EventDeliveryStandIn = Awaited<ReturnType<typeof startEventDelivery>>;

const BENCH_SECRET_ARN =
  'arn:aws:secretsmanager:us-east-1:123456789012:secret:TerraConnect-TerraSecret-AbCdEf';

/**
 * Every AWS stand-in a function meets in a phase: the secret's sources (holding these credentials), S3,
 * EventBridge and SQS; `localAws` gives `deployedEnv` what it needs for a run's tables and Terra.
 */
export async function startAwsStandIns(options: {
  secretSource: string;
  credentials: { dev_id: string; api_key: string; signing_secret: string };
  keepObjects: boolean;
}) {
  const secretArn = BENCH_SECRET_ARN;
  const secret = await startSecretSources(options.secretSource, {
    arn: secretArn,
    value: JSON.stringify(options.credentials),
  });
  const s3 = await startS3({ keep: options.keepObjects });
  const delivery = await startEventDelivery();
  return {
    secretArn,
    secret,
    s3,
    delivery,
    localAws(dynamoEndpoint: string, tables: LocalAws['tables'], terra: LocalAws['terra']): LocalAws {
      return {
        dynamoEndpoint,
        tables,
        secretArn,
        endpoints: { ...secret.env, ...s3.env, ...delivery.env },
        bucket: s3.bucket,
        busName: delivery.busName,
        queueUrl: delivery.queueUrl,
        terra,
      };
    },
    async stop() {
      await delivery.stop();
      await s3.stop();
      await secret.stop();
    },
  };
}
