import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ContractCheck, envelopeOfEntry } from '../helpers/event-contracts.ts';

/**
 * Just enough of AWS for the CLI's deployed mode to run for real on this machine, through the SDK's
 * own clients pointed here (AWS_ENDPOINT_URL_<SERVICE>): CloudFormation's DescribeStacks (query
 * protocol, XML), SQS (JSON 1.0: receive, delete, send, attributes), EventBridge's PutEvents and
 * Secrets Manager's GetSecretValue (JSON 1.1). Every request must be SigV4-signed. DynamoDB and S3
 * are the real emulators (DynamoDB Local, s3rver), not this.
 */
export interface FakeMessage {
  id: string;
  body: string;
  receipt: string;
  visibleAt: number;
  delaySeconds: number;
}

export interface FakeAws {
  url: string;
  stacks: Map<string, Record<string, string>>;
  /** Queue name → its messages. */
  queues: Map<string, FakeMessage[]>;
  secrets: Map<string, string>;
  /** What PutEvents received. */
  events: Array<{ EventBusName?: string; Source?: string; DetailType?: string; Detail?: string }>;
  /** The same events as their targets would receive them, held to their JSON Schemas. */
  contracts: ContractCheck;
  /** Calls by target (`AmazonSQS.ReceiveMessage`, `DescribeStacks`, …), to see what was asked. */
  calls: string[];
  /** Any request that was not signed. */
  unsigned: string[];
  send(queue: string, body: string): void;
  stop(): Promise<void>;
}

const md5 = (text: string) => createHash('md5').update(text).digest('hex');
const xml = (text: string) => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

async function bodyOf(request: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of request) body += String(chunk);
  return body;
}

export async function startFakeAws(): Promise<FakeAws> {
  const fake: Omit<FakeAws, 'url' | 'stop'> = {
    stacks: new Map(),
    queues: new Map(),
    secrets: new Map(),
    events: [],
    contracts: new ContractCheck(),
    calls: [],
    unsigned: [],
    send(queue, body) {
      const messages = fake.queues.get(queue) ?? [];
      messages.push({ id: randomUUID(), body, receipt: randomUUID(), visibleAt: 0, delaySeconds: 0 });
      fake.queues.set(queue, messages);
    },
  };
  const queueOf = (url: unknown) => String(url).split('/').at(-1) ?? '';

  const json = (target: string, input: Record<string, unknown>): [number, unknown] => {
    switch (target) {
      case 'AmazonSQS.ReceiveMessage': {
        const now = Date.now();
        const messages = (fake.queues.get(queueOf(input.QueueUrl)) ?? [])
          .filter((message) => message.visibleAt <= now)
          .slice(0, Number(input.MaxNumberOfMessages ?? 1));
        for (const message of messages) {
          message.visibleAt = now + Number(input.VisibilityTimeout ?? 30) * 1000;
          message.receipt = randomUUID();
        }
        return [
          200,
          {
            Messages: messages.map((message) => ({
              MessageId: message.id,
              ReceiptHandle: message.receipt,
              MD5OfBody: md5(message.body),
              Body: message.body,
            })),
          },
        ];
      }
      case 'AmazonSQS.DeleteMessage': {
        const name = queueOf(input.QueueUrl);
        fake.queues.set(
          name,
          (fake.queues.get(name) ?? []).filter((message) => message.receipt !== input.ReceiptHandle),
        );
        return [200, {}];
      }
      case 'AmazonSQS.GetQueueAttributes':
        return [
          200,
          {
            Attributes: {
              ApproximateNumberOfMessages: String(fake.queues.get(queueOf(input.QueueUrl))?.length ?? 0),
            },
          },
        ];
      case 'AmazonSQS.SendMessage': {
        const name = queueOf(input.QueueUrl);
        const body = String(input.MessageBody);
        fake.send(name, body);
        const sent = fake.queues.get(name)?.at(-1);
        if (sent) sent.delaySeconds = Number(input.DelaySeconds ?? 0);
        return [200, { MessageId: sent?.id, MD5OfMessageBody: md5(body) }];
      }
      case 'AmazonSQS.SendMessageBatch': {
        const entries = (input.Entries ?? []) as Array<{ Id: string; MessageBody: string }>;
        for (const entry of entries) fake.send(queueOf(input.QueueUrl), entry.MessageBody);
        return [
          200,
          {
            Successful: entries.map((entry) => ({
              Id: entry.Id,
              MessageId: randomUUID(),
              MD5OfMessageBody: md5(entry.MessageBody),
            })),
            Failed: [],
          },
        ];
      }
      case 'AWSEvents.PutEvents': {
        const entries = (input.Entries ?? []) as FakeAws['events'];
        fake.events.push(...entries);
        for (const entry of entries) fake.contracts.check(envelopeOfEntry(entry));
        return [200, { FailedEntryCount: 0, Entries: entries.map(() => ({ EventId: randomUUID() })) }];
      }
      case 'secretsmanager.GetSecretValue': {
        const value = fake.secrets.get(String(input.SecretId));
        if (value === undefined) {
          return [
            400,
            {
              __type: 'ResourceNotFoundException',
              message: "Secrets Manager can't find the specified secret.",
            },
          ];
        }
        return [200, { ARN: input.SecretId, Name: 'terra', SecretString: value, VersionId: randomUUID() }];
      }
      default:
        return [400, { __type: 'UnknownOperationException', message: target }];
    }
  };

  const describeStacks = (form: URLSearchParams): [number, string] => {
    const name = form.get('StackName') ?? '';
    const outputs = fake.stacks.get(name);
    if (outputs === undefined) {
      return [
        400,
        `<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Stack with id ${xml(name)} does not exist</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
      ];
    }
    const members = Object.entries(outputs)
      .map(
        ([key, value]) =>
          `<member><OutputKey>${xml(key)}</OutputKey><OutputValue>${xml(value)}</OutputValue></member>`,
      )
      .join('');
    return [
      200,
      `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member><StackName>${xml(name)}</StackName><StackId>arn:aws:cloudformation:us-east-1:000000000000:stack/${xml(name)}/1</StackId><CreationTime>2026-01-01T00:00:00Z</CreationTime><StackStatus>UPDATE_COMPLETE</StackStatus><Outputs>${members}</Outputs></member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></DescribeStacksResponse>`,
    ];
  };

  const server: Server = createServer((request, response) => {
    void (async () => {
      const body = await bodyOf(request);
      const target = String(request.headers['x-amz-target'] ?? '');
      const call = target || new URLSearchParams(body).get('Action') || `${request.method} ${request.url}`;
      fake.calls.push(call);
      if (!String(request.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 '))
        fake.unsigned.push(call);
      if (target) {
        const [status, answer] = json(target, body ? (JSON.parse(body) as Record<string, unknown>) : {});
        const type = target.startsWith('AmazonSQS.')
          ? 'application/x-amz-json-1.0'
          : 'application/x-amz-json-1.1';
        response
          .writeHead(status, { 'content-type': type, 'x-amzn-requestid': randomUUID() })
          .end(JSON.stringify(answer));
        return;
      }
      const form = new URLSearchParams(body);
      if (form.get('Action') === 'DescribeStacks') {
        const [status, answer] = describeStacks(form);
        response.writeHead(status, { 'content-type': 'text/xml' }).end(answer);
        return;
      }
      response.writeHead(400, { 'content-type': 'text/plain' }).end(`unknown call ${call}`);
    })();
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  return {
    ...fake,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}
