import { createHash, randomUUID } from 'node:crypto';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { Sha256 } from '@smithy/core/checksum';
import { HttpRequest } from '@smithy/core/protocols';
import { SignatureV4 } from '@smithy/signature-v4';

/**
 * The AWS services the code calls besides DynamoDB, on one loopback port, for the tests and the
 * benchmark: the real SDK clients (or the function's own signed requests) reach it through their
 * endpoint variables (`env`), so serialization, signing, retries and the MD5 checks all run. DynamoDB
 * and, where a test needs more of S3 than a put and a get, S3 are the real emulators (DynamoDB Local,
 * s3rver), not this.
 *
 * - CloudFormation `DescribeStacks` (query protocol, XML), from `stacks`;
 * - EventBridge `PutEvents` (JSON 1.1), the accepted entries in `events`;
 * - SQS `SendMessage`, `SendMessageBatch`, `ReceiveMessage`, `DeleteMessage`, `GetQueueAttributes`
 *   (JSON 1.0), per queue in `queues`, named by the last segment of the queue URL;
 * - S3 `PutObject` and `GetObject`, path-style (the SDK's choice for an IP endpoint), in `objects`;
 *   anything else is 501, so code that starts using more of S3 shows up;
 * - Secrets Manager `GetSecretValue` (JSON 1.1), and the same secret through AWS's Parameters and
 *   Secrets Lambda Extension (`GET /secretsmanager/get`, the session token in a header), from `secrets`.
 *
 * Every request is in `calls`, answered or not. `inject` makes the next calls (or every call) of a
 * service or operation slow, fail with the service's own error, or refuse some entries of a batch, as
 * the real services do under load; `reset` forgets the calls and the faults.
 */
export type AwsService = 'cloudformation' | 'events' | 'sqs' | 's3' | 'secretsmanager' | 'secrets-extension';

export const AWS_SERVICES: readonly AwsService[] = [
  'cloudformation',
  'events',
  'sqs',
  's3',
  'secretsmanager',
  'secrets-extension',
];

export interface AwsCall {
  service: AwsService;
  /** The service's own name for it: `PutEvents`, `SendMessageBatch`, `GetObject`, `DescribeStacks`, … */
  operation: string;
  method: string;
  /** The request's path and query. */
  path: string;
  headers: IncomingHttpHeaders;
  /** The JSON body, the query protocol's form, S3's `{Bucket, Key, bytes}`, the extension's query. */
  input: Record<string, unknown>;
  /** A SigV4 `Authorization` header was sent. */
  signed: boolean;
  /** `<region>/<service>` of the SigV4 credential scope ('' unsigned). */
  scope: string;
  /**
   * With `credentials` given at the start: the signature is the one those credentials give for exactly
   * this request and body (so the SDK signed what was sent, for the region and service it claims).
   */
  signatureValid?: boolean;
  /** The SDK's attempt header (`attempt=2; max=3`): tells a retry by the SDK from a new call. */
  attempt: string;
  /** The HTTP status it was answered with, once answered. */
  status?: number;
}

/** A fault for the calls it matches; `inject` several, the first that matches a call applies to it. */
export interface AwsFault {
  service?: AwsService;
  operation?: string;
  /** How many matching calls, from the next; every one (until `reset`) when left out. */
  times?: number;
  /** Answers this much later (or never, within a test's life). */
  latencyMs?: number;
  /** Answers with the service's error, in its protocol: `code` is its error type, as the SDK names it. */
  error?: { status: number; code: string; message?: string; headers?: Record<string, string> };
  /**
   * PutEvents and SendMessageBatch: refuses the entries this names an error code for (a PutEvents
   * `ErrorCode`, a batch entry's `Failed` code), accepting the others, in a 200 as the services do.
   */
  refuse?: (entry: Record<string, unknown>, index: number) => string | undefined;
}

export interface QueuedMessage {
  id: string;
  body: string;
  receipt: string;
  /** Epoch ms from which ReceiveMessage hands it out (its delay, then each visibility timeout). */
  visibleAt: number;
}

export interface PutEventsEntry {
  EventBusName?: string;
  Source?: string;
  DetailType?: string;
  Detail?: string;
}

export interface AwsStandInOptions {
  /** The services answered; the others answer as unknown and are left out of `env`. Every one by default. */
  services?: readonly AwsService[];
  /** Checks every call's SigV4 signature against these (`AwsCall.signatureValid`). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** The token the extension wants (Lambda's AWS_SESSION_TOKEN); any non-empty one when left out. */
  sessionToken?: string;
  /** Keeps what PutObject stores, for GetObject (default true; a long run that only writes can say no). */
  keepObjects?: boolean;
  /**
   * Sees every call as it arrives, before any fault: where a test holds what was sent to a contract it
   * keeps (the events' JSON Schemas) without this module knowing of it.
   */
  observe?: (call: AwsCall) => void;
}

export interface AwsStandIn {
  url: string;
  port: number;
  /** The SDK's endpoint variables (AWS_ENDPOINT_URL_<SERVICE>) and the extension's port, for the services served. */
  env: Record<string, string>;
  calls: AwsCall[];
  /** Stack name → its outputs. */
  stacks: Map<string, Record<string, string>>;
  /** SecretId (the ARN) → SecretString. */
  secrets: Map<string, string>;
  /** Queue name → its messages. */
  queues: Map<string, QueuedMessage[]>;
  /** The PutEvents entries accepted. */
  events: PutEventsEntry[];
  /** Buckets PutObject and GetObject accept. */
  buckets: Set<string>;
  /** `<bucket>/<key>` → the object. */
  objects: Map<string, Buffer>;
  /** Puts a message on a queue, as another sender would. */
  send(queue: string, body: string): void;
  /** The calls of one operation (of one service, when named). */
  callsTo(operation: string, service?: AwsService): AwsCall[];
  inject(fault: AwsFault): void;
  /** Forgets the calls and the faults (not the stacks, secrets, queues, events or objects). */
  reset(): void;
  stop(): Promise<void>;
}

interface Answer {
  status: number;
  body: string | Buffer;
  headers?: Record<string, string>;
}

/** What the operations read and write: the stand-in's stores, and how it was asked to keep them. */
type Stores = Pick<AwsStandIn, 'stacks' | 'secrets' | 'queues' | 'events' | 'buckets' | 'objects'> & {
  keepObjects: boolean;
  sessionToken?: string;
  send(queue: string, body: string, delaySeconds?: number): QueuedMessage;
};

type Operation = (call: AwsCall, stores: Stores, body: Buffer, fault: AwsFault | undefined) => Answer;

/** One service: how it is spoken (its answers and its errors) and the operations answered. */
interface ServiceHandler {
  error(status: number, code: string, message: string, headers?: Record<string, string>): Answer;
  operations: Record<string, Operation>;
}

const md5 = (text: string) => createHash('md5').update(text).digest('hex');
const sha256 = (body: Buffer) => createHash('sha256').update(body).digest('hex');
const xml = (text: string) => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

function jsonProtocol(version: '1.0' | '1.1') {
  const headers = { 'content-type': `application/x-amz-json-${version}` };
  const answer = (status: number, payload: unknown, extra: Record<string, string> = {}): Answer => ({
    status,
    body: JSON.stringify(payload),
    headers: { ...headers, 'x-amzn-requestid': randomUUID(), ...extra },
  });
  return {
    answer,
    error: (status: number, code: string, message: string, extra?: Record<string, string>) =>
      answer(status, { __type: code, message }, extra),
  };
}

const json10 = jsonProtocol('1.0');
const json11 = jsonProtocol('1.1');

const entriesOf = (input: Record<string, unknown>) =>
  (Array.isArray(input.Entries) ? input.Entries : []) as Array<Record<string, unknown>>;
const queueOf = (url: unknown) => String(url).split('/').at(-1) ?? '';

const events: ServiceHandler = {
  error: json11.error,
  operations: {
    PutEvents(call, stores, _body, fault) {
      const results = entriesOf(call.input).map((entry, index) => {
        const code = fault?.refuse?.(entry, index);
        if (code) return { ErrorCode: code, ErrorMessage: `${code} (stand-in)` };
        stores.events.push(entry as PutEventsEntry);
        return { EventId: randomUUID() };
      });
      const failed = results.filter((result) => 'ErrorCode' in result).length;
      return json11.answer(200, { FailedEntryCount: failed, Entries: results });
    },
  },
};

const sqs: ServiceHandler = {
  error: json10.error,
  operations: {
    SendMessage(call, stores) {
      const body = String(call.input.MessageBody);
      const sent = stores.send(queueOf(call.input.QueueUrl), body, Number(call.input.DelaySeconds ?? 0));
      return json10.answer(200, { MessageId: sent.id, MD5OfMessageBody: md5(body) });
    },
    SendMessageBatch(call, stores, _body, fault) {
      const Successful: unknown[] = [];
      const Failed: unknown[] = [];
      entriesOf(call.input).forEach((entry, index) => {
        const code = fault?.refuse?.(entry, index);
        if (code) {
          Failed.push({ Id: entry.Id, SenderFault: false, Code: code, Message: `${code} (stand-in)` });
          return;
        }
        const body = String(entry.MessageBody);
        const sent = stores.send(queueOf(call.input.QueueUrl), body, Number(entry.DelaySeconds ?? 0));
        Successful.push({ Id: entry.Id, MessageId: sent.id, MD5OfMessageBody: md5(body) });
      });
      return json10.answer(200, { Successful, Failed });
    },
    ReceiveMessage(call, stores) {
      const now = Date.now();
      const messages = (stores.queues.get(queueOf(call.input.QueueUrl)) ?? [])
        .filter((message) => message.visibleAt <= now)
        .slice(0, Number(call.input.MaxNumberOfMessages ?? 1));
      for (const message of messages) {
        message.visibleAt = now + Number(call.input.VisibilityTimeout ?? 30) * 1000;
        message.receipt = randomUUID();
      }
      return json10.answer(200, {
        Messages: messages.map((message) => ({
          MessageId: message.id,
          ReceiptHandle: message.receipt,
          MD5OfBody: md5(message.body),
          Body: message.body,
        })),
      });
    },
    DeleteMessage(call, stores) {
      const name = queueOf(call.input.QueueUrl);
      const left = (stores.queues.get(name) ?? []).filter(
        (message) => message.receipt !== call.input.ReceiptHandle,
      );
      stores.queues.set(name, left);
      return json10.answer(200, {});
    },
    GetQueueAttributes(call, stores) {
      const waiting = stores.queues.get(queueOf(call.input.QueueUrl))?.length ?? 0;
      return json10.answer(200, { Attributes: { ApproximateNumberOfMessages: String(waiting) } });
    },
  },
};

const secretValueOf = (arn: string, value: string) => ({
  ARN: arn,
  Name: arn.split(':secret:')[1] ?? arn,
  VersionId: '00000000-0000-4000-8000-000000000001',
  SecretString: value,
  VersionStages: ['AWSCURRENT'],
  CreatedDate: 1_767_225_600,
});

const secretsManager: ServiceHandler = {
  error: json11.error,
  operations: {
    GetSecretValue(call, stores) {
      const arn = String(call.input.SecretId);
      const value = stores.secrets.get(arn);
      if (value === undefined)
        return json11.error(
          400,
          'ResourceNotFoundException',
          "Secrets Manager can't find the specified secret.",
        );
      return json11.answer(200, secretValueOf(arn, value));
    },
  },
};

/** The extension answers plain JSON, the GetSecretValue shape on success. */
const extensionAnswer = (status: number, payload: unknown): Answer => ({
  status,
  body: JSON.stringify(payload),
  headers: { 'content-type': 'application/json' },
});

const secretsExtension: ServiceHandler = {
  error: (status, code, message, headers) => {
    const answer = extensionAnswer(status, { message: `${code}: ${message}` });
    return { ...answer, headers: { ...answer.headers, ...headers } };
  },
  operations: {
    GetSecretValue(call, stores) {
      const token = call.headers['x-aws-parameters-secrets-token'];
      const expected = stores.sessionToken;
      if (typeof token !== 'string' || !token || (expected !== undefined && token !== expected))
        return extensionAnswer(401, { message: 'not authorized: X-Aws-Parameters-Secrets-Token' });
      const arn = String(call.input.secretId);
      const value = stores.secrets.get(arn);
      if (value === undefined) return extensionAnswer(400, { message: 'ResourceNotFoundException' });
      return extensionAnswer(200, secretValueOf(arn, value));
    },
  },
};

const CLOUDFORMATION_NS = 'http://cloudformation.amazonaws.com/doc/2010-05-15/';

const cloudFormation: ServiceHandler = {
  error: (status, code, message, headers) => ({
    status,
    body: `<ErrorResponse xmlns="${CLOUDFORMATION_NS}"><Error><Type>Sender</Type><Code>${xml(code)}</Code><Message>${xml(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
    headers: { 'content-type': 'text/xml', ...headers },
  }),
  operations: {
    DescribeStacks(call, stores) {
      const name = String(call.input.StackName ?? '');
      const outputs = stores.stacks.get(name);
      if (outputs === undefined)
        return cloudFormation.error(400, 'ValidationError', `Stack with id ${name} does not exist`);
      const members = Object.entries(outputs)
        .map(
          ([key, value]) =>
            `<member><OutputKey>${xml(key)}</OutputKey><OutputValue>${xml(value)}</OutputValue></member>`,
        )
        .join('');
      return {
        status: 200,
        headers: { 'content-type': 'text/xml' },
        body: `<DescribeStacksResponse xmlns="${CLOUDFORMATION_NS}"><DescribeStacksResult><Stacks><member><StackName>${xml(name)}</StackName><StackId>arn:aws:cloudformation:us-east-1:000000000000:stack/${xml(name)}/1</StackId><CreationTime>2026-01-01T00:00:00Z</CreationTime><StackStatus>UPDATE_COMPLETE</StackStatus><Outputs>${members}</Outputs></member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></DescribeStacksResponse>`,
      };
    },
  },
};

const s3Error = (
  status: number,
  code: string,
  message: string,
  headers?: Record<string, string>,
): Answer => ({
  status,
  body: `<Error><Code>${xml(code)}</Code><Message>${xml(message)}</Message></Error>`,
  headers: { 'content-type': 'application/xml', ...headers },
});

const s3: ServiceHandler = {
  error: s3Error,
  operations: {
    PutObject(call, stores, body) {
      const bucket = String(call.input.Bucket);
      if (!stores.buckets.has(bucket))
        return s3Error(404, 'NoSuchBucket', 'The specified bucket does not exist');
      if (stores.keepObjects) stores.objects.set(`${bucket}/${String(call.input.Key)}`, body);
      return {
        status: 200,
        body: '',
        headers: { etag: `"${createHash('md5').update(body).digest('hex')}"` },
      };
    },
    GetObject(call, stores) {
      const object = stores.objects.get(`${String(call.input.Bucket)}/${String(call.input.Key)}`);
      if (!object) return s3Error(404, 'NoSuchKey', 'The specified key does not exist.');
      return { status: 200, body: object, headers: { 'content-type': 'application/json' } };
    },
  },
};

const HANDLERS: Record<AwsService, ServiceHandler> = {
  cloudformation: cloudFormation,
  events,
  sqs,
  s3,
  secretsmanager: secretsManager,
  'secrets-extension': secretsExtension,
};

/** The AWS_ENDPOINT_URL_<SERVICE> variable the SDK reads for each (the extension has a port instead). */
const ENDPOINT_VARIABLES: Partial<Record<AwsService, string>> = {
  cloudformation: 'AWS_ENDPOINT_URL_CLOUDFORMATION',
  events: 'AWS_ENDPOINT_URL_EVENTBRIDGE',
  sqs: 'AWS_ENDPOINT_URL_SQS',
  s3: 'AWS_ENDPOINT_URL_S3',
  secretsmanager: 'AWS_ENDPOINT_URL_SECRETS_MANAGER',
};

const TARGET_PREFIXES: Record<string, AwsService> = {
  AWSEvents: 'events',
  AmazonSQS: 'sqs',
  secretsmanager: 'secretsmanager',
};

/** Which service a request is for, what it asks and with what, from its protocol's markers. */
function identify(request: IncomingMessage, body: Buffer): Pick<AwsCall, 'service' | 'operation' | 'input'> {
  const url = new URL(request.url ?? '/', 'http://stand-in');
  const target = String(request.headers['x-amz-target'] ?? '');
  if (target) {
    const [prefix = '', operation = ''] = target.split('.');
    let input: Record<string, unknown> = {};
    try {
      input = body.length ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : {};
    } catch {
      input = { unparsable: body.toString('utf8') };
    }
    // A service not played here is answered in JSON 1.1, as an operation EventBridge does not know.
    const service = TARGET_PREFIXES[prefix];
    return service ? { service, operation, input } : { service: 'events', operation: target, input };
  }
  if (request.method === 'GET' && url.pathname === '/secretsmanager/get')
    return {
      service: 'secrets-extension',
      operation: 'GetSecretValue',
      input: Object.fromEntries(url.searchParams),
    };
  const form = String(request.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')
    ? new URLSearchParams(body.toString('utf8'))
    : undefined;
  const action = form?.get('Action');
  if (form && action)
    return { service: 'cloudformation', operation: action, input: Object.fromEntries(form) };
  // Path-style S3: /<bucket>/<key>.
  const [, bucket = '', ...key] = url.pathname.split('/');
  const operation =
    request.method === 'PUT' ? 'PutObject' : request.method === 'GET' ? 'GetObject' : (request.method ?? '');
  return {
    service: 's3',
    operation,
    input: { Bucket: bucket, Key: decodeURIComponent(key.join('/')), bytes: body.length },
  };
}

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=[0-9a-f]{64}$/;

/**
 * Signs the request again, as received, with `credentials` and the scope it claims: the same
 * authorization header means the SDK signed exactly this request (its headers, and its body through
 * x-amz-content-sha256) for that region and service.
 */
async function checkSignature(
  request: IncomingMessage,
  body: Buffer,
  credentials: AwsStandInOptions['credentials'],
): Promise<{ scope: string; valid: boolean }> {
  const authorization = String(request.headers.authorization ?? '');
  const match = AUTHORIZATION.exec(authorization);
  if (!match) return { scope: '', valid: false };
  const [, accessKeyId = '', , region = '', service = '', signedHeaders = ''] = match;
  const scope = `${region}/${service}`;
  if (!credentials) return { scope, valid: false };
  const headers: Record<string, string> = {};
  for (const name of signedHeaders.split(';')) headers[name] = String(request.headers[name] ?? '');
  const signingDate = new Date(
    (headers['x-amz-date'] ?? '').replace(
      /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/,
      '$1-$2-$3T$4:$5:$6Z',
    ),
  );
  const [hostname = '', port = ''] = (headers.host ?? '').split(':');
  const url = new URL(request.url ?? '/', 'http://stand-in');
  const signer = new SignatureV4({ service, region, credentials, sha256: Sha256 });
  const signed = await signer.sign(
    new HttpRequest({
      method: request.method ?? 'POST',
      protocol: 'http:',
      hostname,
      port: Number(port),
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers,
      body,
    }),
    { signingDate },
  );
  const valid =
    accessKeyId === credentials.accessKeyId &&
    headers['x-amz-content-sha256'] === sha256(body) &&
    signed.headers.authorization === authorization;
  return { scope, valid };
}

async function bodyOf(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      done();
    });
  });
}

export async function startAwsStandIn(options: AwsStandInOptions = {}): Promise<AwsStandIn> {
  const served = new Set(options.services ?? AWS_SERVICES);
  const calls: AwsCall[] = [];
  let faults: Array<AwsFault & { left: number }> = [];
  const timers = new Set<NodeJS.Timeout>();
  const stores: Stores = {
    stacks: new Map(),
    secrets: new Map(),
    queues: new Map(),
    events: [],
    buckets: new Set(),
    objects: new Map(),
    keepObjects: options.keepObjects ?? true,
    ...(options.sessionToken !== undefined ? { sessionToken: options.sessionToken } : {}),
    send(queue, body, delaySeconds = 0) {
      const message: QueuedMessage = {
        id: randomUUID(),
        body,
        receipt: randomUUID(),
        visibleAt: Date.now() + delaySeconds * 1000,
      };
      const messages = stores.queues.get(queue) ?? [];
      messages.push(message);
      stores.queues.set(queue, messages);
      return message;
    },
  };

  const faultFor = (call: AwsCall) => {
    const fault = faults.find(
      (candidate) =>
        candidate.left > 0 &&
        (candidate.service === undefined || candidate.service === call.service) &&
        (candidate.operation === undefined || candidate.operation === call.operation),
    );
    if (fault) fault.left--;
    return fault;
  };

  const answerOf = (call: AwsCall, body: Buffer, fault: AwsFault | undefined): Answer => {
    const handler = HANDLERS[call.service];
    const operation = handler.operations[call.operation];
    if (!served.has(call.service) || !operation) {
      const status = call.service === 's3' ? 501 : call.service === 'secrets-extension' ? 404 : 400;
      const code = call.service === 's3' ? 'NotImplemented' : 'UnknownOperationException';
      return handler.error(status, code, `not served by the AWS stand-in: ${call.service} ${call.operation}`);
    }
    if (fault?.error) {
      const { status, code, message, headers } = fault.error;
      return handler.error(status, code, message ?? `${code} (stand-in)`, headers);
    }
    return operation(call, stores, body, fault);
  };

  const handle = (request: IncomingMessage, response: ServerResponse) => {
    void (async () => {
      const body = await bodyOf(request);
      const { scope, valid } = await checkSignature(request, body, options.credentials);
      const call: AwsCall = {
        ...identify(request, body),
        method: request.method ?? '',
        path: request.url ?? '/',
        headers: request.headers,
        signed: String(request.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 '),
        scope,
        attempt: String(request.headers['amz-sdk-request'] ?? ''),
        ...(options.credentials ? { signatureValid: valid } : {}),
      };
      calls.push(call);
      options.observe?.(call);
      const fault = faultFor(call);
      const answer = answerOf(call, body, fault);
      const write = () => {
        if (response.destroyed) return;
        call.status = answer.status;
        const length = typeof answer.body === 'string' ? Buffer.byteLength(answer.body) : answer.body.length;
        response.writeHead(answer.status, { 'content-length': length, ...answer.headers }).end(answer.body);
      };
      if (!fault?.latencyMs) return write();
      const timer = setTimeout(() => {
        timers.delete(timer);
        write();
      }, fault.latencyMs);
      timers.add(timer);
    })();
  };

  const v4 = createServer(handle);
  await listen(v4, '127.0.0.1', 0);
  const port = (v4.address() as AddressInfo).port;
  // The extension is reached as `localhost`, which may resolve to ::1: the same port there too.
  const v6 = createServer(handle);
  const v6Listening = await listen(v6, '::1', port).then(
    () => true,
    () => false,
  );
  const url = `http://127.0.0.1:${port}`;
  const env: Record<string, string> = {};
  for (const service of served) {
    const variable = ENDPOINT_VARIABLES[service];
    if (variable) env[variable] = url;
  }
  if (served.has('secrets-extension')) env.PARAMETERS_SECRETS_EXTENSION_HTTP_PORT = String(port);

  const close = (server: Server) =>
    new Promise<void>((done) => {
      server.close(() => done());
      server.closeAllConnections();
    });

  return {
    url,
    port,
    env,
    calls,
    stacks: stores.stacks,
    secrets: stores.secrets,
    queues: stores.queues,
    events: stores.events,
    buckets: stores.buckets,
    objects: stores.objects,
    send: (queue, body) => {
      stores.send(queue, body);
    },
    callsTo: (operation, service) =>
      calls.filter(
        (call) => call.operation === operation && (service === undefined || call.service === service),
      ),
    inject(fault) {
      faults.push({ ...fault, left: fault.times ?? Number.POSITIVE_INFINITY });
    },
    reset() {
      calls.length = 0;
      faults = [];
    },
    async stop() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await close(v4);
      if (v6Listening) await close(v6);
    },
  };
}
