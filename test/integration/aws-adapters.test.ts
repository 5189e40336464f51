import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SqsDeadLetters } from '#shared/aws/dead-letters';
import { SqsDeletionQueue } from '#shared/aws/deletion-queue';
import { EventBridgeBus } from '#shared/aws/event-bus';
import type { BusEvent, DataDetail } from '#shared/events/bus-events';
import type { CommittedChange } from '#shared/events/outbox';
import { type PublisherDeps, publishChanges } from '#shared/events/publisher';
import { asBusEvent } from '#shared/operations/redrive';
import {
  type AwsCall,
  type AwsStandIn,
  type PutEventsEntry,
  startAwsStandIn,
} from '../helpers/aws-stand-in.ts';
import { ContractCheck, envelopeOfEntry } from '../helpers/event-contracts.ts';
import { MemoryArchive, recordingLog } from '../helpers/memory-ports.ts';

/**
 * The three AWS adapters of the event and deletion paths (EventBridgeBus, SqsDeadLetters,
 * SqsDeletionQueue) driven through the real SDK v3 clients against the AWS stand-in
 * (test/helpers/aws-stand-in.ts), which speaks the services' wire protocols: EventBridge's JSON 1.1
 * (`AWSEvents.PutEvents`) and SQS's JSON 1.0 (`AmazonSQS.SendMessage`, `AmazonSQS.SendMessageBatch`,
 * which @aws-sdk/client-sqs 3.1175 sends with `x-amzn-query-mode: true`). So the SDK's serialization,
 * signing, retries and MD5 checks run, and so does each adapter's handling of what comes back: refused
 * entries, `Failed` batch entries and service errors are the stand-in's injected faults, and its call
 * log keeps which call carried what, with its headers and signature.
 */

const REGION = 'eu-west-1';
// Static, made-up credentials: the stand-in checks every signature against them.
const CREDENTIALS = {
  accessKeyId: 'AKIDTERRACONNECTTEST',
  secretAccessKey: 'not-a-real-secret-key-for-tests',
};
const BUS_NAME = 'terra-connect-events';
// Real-looking queue URLs on AWS's host: the client's endpoint, not the URL, must decide where calls go.
const DEAD_LETTER_QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/terra-connect-dead-letters';
const DELETION_QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/terra-connect-deletions';
/** EventBridge's limit for one PutEvents call, by its own way of counting. */
const PUT_EVENTS_LIMIT = 256 * 1024;

// ---------------------------------------------------------------------------------------------------
// Fixtures

interface BatchEntry {
  Id: string;
  MessageBody: string;
}

const entriesOf = (call: AwsCall | undefined) => (call?.input.Entries ?? []) as PutEventsEntry[];
const batchOf = (call: AwsCall | undefined) => (call?.input.Entries ?? []) as BatchEntry[];
const detailIdOf = (entry: PutEventsEntry) => (JSON.parse(entry.Detail ?? '{}') as { id: string }).id;
/** The ids of the events each PutEvents call carried, call by call. */
const idsByCall = (calls: readonly AwsCall[]) => calls.map((call) => entriesOf(call).map(detailIdOf));
/** An entry's size as EventBridge counts it: 14 bytes for the time, then the UTF-8 of the rest. */
const wireBytes = (entry: PutEventsEntry) =>
  14 +
  Buffer.byteLength(entry.Source ?? '') +
  Buffer.byteLength(entry.DetailType ?? '') +
  Buffer.byteLength(entry.Detail ?? '');
const callBytes = (call: AwsCall) => entriesOf(call).reduce((sum, entry) => sum + wireBytes(entry), 0);

function connectionEvent(n: number): BusEvent {
  return {
    detailType: 'terra.connection',
    detail: {
      id: `connection:${n}`,
      user_id: `user-${n}`,
      reference_id: `app-user-${n}`,
      provider: 'GARMIN',
      status: 'active',
      previous_status: 'pending',
      at: '2026-12-01T10:00:00.000Z',
    },
  };
}

function dataEvent(id: string, data?: unknown): BusEvent {
  const detail: DataDetail = {
    id,
    event_id: `trace-${id}`,
    type: 'activity',
    reference_id: 'app-user-1',
    user_id: 'user-1',
    provider: 'GARMIN',
    received_at: '2026-12-01T10:00:00.000Z',
    archive: { bucket: 'terra-archive', key: `users/user-1/2026/12/01/${id}.json` },
    bytes: 1_000,
    backfill: false,
  };
  if (data !== undefined) detail.data = data;
  return { detailType: 'terra.data', detail };
}

/** A terra.data event whose PutEvents entry is exactly `bytes` long, by EventBridge's count. */
function dataEventOfWireSize(id: string, bytes: number): BusEvent {
  const bare = dataEvent(id, '');
  const size = wireBytes({
    Source: 'terra-connect',
    DetailType: bare.detailType,
    Detail: JSON.stringify(bare.detail),
  });
  // One ASCII character is one byte in the JSON too.
  return dataEvent(id, 'x'.repeat(bytes - size));
}

const oneOfEachType: BusEvent[] = [
  connectionEvent(1),
  dataEvent('data:1', { steps: 1200, note: 'Zürich → Genève' }),
  {
    detailType: 'terra.backfill',
    detail: {
      id: 'backfill:1',
      user_id: 'user-1',
      reference_id: 'app-user-1',
      reference: 'ref-1',
      type: 'activity',
      status: 'complete',
      expected: 3,
      received: 3,
      from: '2026-11-01',
      to: '2026-12-01',
    },
  },
  {
    detailType: 'terra.user_deleted',
    detail: {
      id: 'user_deleted:1',
      reference_id: 'app-user-1',
      deletion_id: 'deletion-1',
      user_ids: ['user-1', 'user-2'],
      deleted_at: '2026-12-01T11:00:00.000Z',
    },
  },
];

/** PutEvents refusing, every time, the entries whose event id is in `ids` (FailedEntryCount and per-entry codes). */
const refusing = (ids: ReadonlySet<string>, code = 'ThrottlingException') => ({
  operation: 'PutEvents',
  refuse: (entry: PutEventsEntry) => (ids.has(detailIdOf(entry)) ? code : undefined),
});

/** The service's error, in its protocol, for the next `times` calls (every one when left out). */
const serviceError = (
  status: number,
  code: string,
  headers: Record<string, string> = {},
  times?: number,
) => ({
  error: { status, code, headers },
  ...(times ? { times } : {}),
});

// ---------------------------------------------------------------------------------------------------

let aws: AwsStandIn;
const contracts = new ContractCheck();
const clients: Array<{ destroy(): void }> = [];

// The adapters build their clients with maxAttempts 3; the tests' clients do the same.
function client<C extends { destroy(): void }>(
  Client: new (config: {
    endpoint: string;
    region: string;
    credentials: typeof CREDENTIALS;
    maxAttempts: number;
  }) => C,
): C {
  const made = new Client({ endpoint: aws.url, region: REGION, credentials: CREDENTIALS, maxAttempts: 3 });
  clients.push(made);
  return made;
}

const eventBridge = (): EventBridgeClient => client(EventBridgeClient);
const sqs = (): SQSClient => client(SQSClient);

beforeAll(async () => {
  aws = await startAwsStandIn({
    services: ['events', 'sqs'],
    credentials: CREDENTIALS,
    // Every event PutEvents carried, as its target would receive it, held to its JSON Schema.
    observe: (call) => {
      if (call.operation === 'PutEvents')
        for (const entry of entriesOf(call)) contracts.check(envelopeOfEntry(entry));
    },
  });
});
afterAll(async () => {
  await aws.stop();
});
beforeEach(() => {
  aws.reset();
});
afterEach(() => {
  for (const client of clients.splice(0)) client.destroy();
  contracts.assert();
});

function expectSignedCall(call: AwsCall | undefined, target: string, contentType: string, service: string) {
  expect(call?.headers['x-amz-target']).toBe(target);
  expect(call?.headers['content-type']).toBe(contentType);
  expect(call?.headers.authorization?.startsWith('AWS4-HMAC-SHA256 ')).toBe(true);
  expect(call?.scope).toBe(`${REGION}/${service}`);
  expect(call?.signatureValid).toBe(true);
}

describe('EventBridgeBus through the EventBridge client', () => {
  it('puts every event on the named bus with source terra-connect, its detail type and its detail as JSON, in one signed PutEvents', async () => {
    const refused = await new EventBridgeBus(BUS_NAME, eventBridge()).publish(oneOfEachType);

    expect(refused).toEqual([]);
    expect(aws.calls).toHaveLength(1);
    expectSignedCall(aws.calls[0], 'AWSEvents.PutEvents', 'application/x-amz-json-1.1', 'events');
    // The source is a literal here: consumers' EventBridge rules match on it.
    expect(entriesOf(aws.calls[0])).toEqual(
      oneOfEachType.map((event) => ({
        EventBusName: BUS_NAME,
        Source: 'terra-connect',
        DetailType: event.detailType,
        Detail: JSON.stringify(event.detail),
      })),
    );
    expect(entriesOf(aws.calls[0]).map((entry) => JSON.parse(entry.Detail ?? ''))).toEqual(
      oneOfEachType.map((event) => event.detail),
    );
  });

  it('splits 25 events into PutEvents calls of at most 10 entries, keeping their order', async () => {
    const events = Array.from({ length: 25 }, (_, i) => connectionEvent(i));

    expect(await new EventBridgeBus(BUS_NAME, eventBridge()).publish(events)).toEqual([]);

    expect(idsByCall(aws.calls).map((ids) => ids.length)).toEqual([10, 10, 5]);
    expect(idsByCall(aws.calls).flat()).toEqual(events.map((event) => event.detail.id));
  });

  it('fills a PutEvents call up to exactly 256 KB and starts a new one for a single byte more', async () => {
    const bus = new EventBridgeBus(BUS_NAME, eventBridge());
    const half = PUT_EVENTS_LIMIT / 2;

    await bus.publish([dataEventOfWireSize('data:a', half), dataEventOfWireSize('data:b', half)]);
    expect(idsByCall(aws.calls)).toEqual([['data:a', 'data:b']]);
    expect(callBytes(aws.calls[0] as AwsCall)).toBe(PUT_EVENTS_LIMIT);

    aws.reset();
    await bus.publish([dataEventOfWireSize('data:c', half), dataEventOfWireSize('data:d', half + 1)]);
    expect(idsByCall(aws.calls)).toEqual([['data:c'], ['data:d']]);
  });

  it('counts the UTF-8 bytes of the details, not their characters, against the 256 KB of a call', async () => {
    // 50,000 two-byte characters: about 100 KB each, though only 50,000 characters.
    const events = ['data:x', 'data:y', 'data:z'].map((id) => dataEvent(id, 'é'.repeat(50_000)));

    expect(await new EventBridgeBus(BUS_NAME, eventBridge()).publish(events)).toEqual([]);

    expect(idsByCall(aws.calls)).toEqual([['data:x', 'data:y'], ['data:z']]);
    for (const call of aws.calls) expect(callBytes(call)).toBeLessThanOrEqual(PUT_EVENTS_LIMIT);
  });

  it('sends again only the entries PutEvents refused, and answers none refused once they are taken', async () => {
    const events = Array.from({ length: 4 }, (_, i) => connectionEvent(i));
    aws.inject({
      operation: 'PutEvents',
      times: 1,
      refuse: (_, index) => ({ 1: 'ThrottlingException', 3: 'InternalFailure' })[index],
    });

    expect(await new EventBridgeBus(BUS_NAME, eventBridge()).publish(events)).toEqual([]);

    expect(idsByCall(aws.calls)).toEqual([
      ['connection:0', 'connection:1', 'connection:2', 'connection:3'],
      ['connection:1', 'connection:3'],
    ]);
    // The resend is the adapter's own new PutEvents, not the SDK retrying a failed request.
    expect(aws.calls[1]?.attempt).toMatch(/^attempt=1;/);
    expect(entriesOf(aws.calls[1])).toEqual(
      [events[1], events[3]].map((event) => ({
        EventBusName: BUS_NAME,
        Source: 'terra-connect',
        DetailType: event?.detailType,
        Detail: JSON.stringify(event?.detail),
      })),
    );
  });

  it('hands back, for the dead-letter queue, the events still refused after three PutEvents of each batch', async () => {
    const events = Array.from({ length: 12 }, (_, i) => connectionEvent(i));
    aws.inject(refusing(new Set(['connection:3', 'connection:11'])));

    const refused = await new EventBridgeBus(BUS_NAME, eventBridge()).publish(events);

    // The refused events themselves, as the publisher dead-letters them.
    expect(refused).toEqual([events[3], events[11]]);
    expect(idsByCall(aws.calls)).toEqual([
      events.slice(0, 10).map((event) => event.detail.id),
      ['connection:3'],
      ['connection:3'],
      ['connection:10', 'connection:11'],
      ['connection:11'],
      ['connection:11'],
    ]);
  });

  it('lets the SDK retry a throttled PutEvents and publishes once EventBridge takes it', async () => {
    aws.inject(serviceError(400, 'ThrottlingException', {}, 1));

    expect(await new EventBridgeBus(BUS_NAME, eventBridge()).publish([connectionEvent(1)])).toEqual([]);

    expect(aws.calls.map((call) => call.attempt)).toEqual(['attempt=1; max=3', 'attempt=2; max=3']);
    expect(entriesOf(aws.calls[1])).toEqual(entriesOf(aws.calls[0]));
    expect(aws.calls.every((call) => call.signatureValid)).toBe(true);
  });

  it.each([
    { status: 500, type: 'InternalException', calls: 3 },
    { status: 400, type: 'ThrottlingException', calls: 3 },
    // Not retryable: thrown at once.
    { status: 400, type: 'ValidationException', calls: 1 },
  ])(
    'throws EventBridge $type (HTTP $status) after the SDK made $calls attempt(s), so the publisher keeps the change for the stream',
    async ({ status, type, calls }) => {
      aws.inject(serviceError(status, type));

      await expect(
        new EventBridgeBus(BUS_NAME, eventBridge()).publish([connectionEvent(1)]),
      ).rejects.toMatchObject({
        name: type,
        $metadata: { httpStatusCode: status },
      });
      expect(aws.calls).toHaveLength(calls);
    },
  );
});

describe('SqsDeadLetters through the SQS client', () => {
  it('sends the events whole, as JSON bodies redrive reads back, to the dead-letter queue in one signed SendMessageBatch', async () => {
    await new SqsDeadLetters(DEAD_LETTER_QUEUE_URL, sqs()).send(oneOfEachType);

    expect(aws.calls).toHaveLength(1);
    const call = aws.calls[0];
    expectSignedCall(call, 'AmazonSQS.SendMessageBatch', 'application/x-amz-json-1.0', 'sqs');
    expect(call?.input.QueueUrl).toBe(DEAD_LETTER_QUEUE_URL);
    const entries = batchOf(call);
    expect(new Set(entries.map((entry) => entry.Id)).size).toBe(entries.length);
    const bodies = entries.map((entry) => JSON.parse(entry.MessageBody) as unknown);
    expect(bodies).toEqual(oneOfEachType);
    // `ops redrive` takes a message for an event only if it reads as one.
    expect(bodies.map(asBusEvent)).toEqual(oneOfEachType);
  });

  it('splits 23 dead letters into SendMessageBatch calls of at most 10, with ids unique in each', async () => {
    const events = Array.from({ length: 23 }, (_, i) => connectionEvent(i));

    await new SqsDeadLetters(DEAD_LETTER_QUEUE_URL, sqs()).send(events);

    expect(aws.calls.map((call) => batchOf(call).length)).toEqual([10, 10, 3]);
    for (const call of aws.calls) {
      expect(call.input.QueueUrl).toBe(DEAD_LETTER_QUEUE_URL);
      expect(new Set(batchOf(call).map((entry) => entry.Id)).size).toBe(batchOf(call).length);
    }
    expect(aws.calls.flatMap((call) => batchOf(call).map((entry) => JSON.parse(entry.MessageBody)))).toEqual(
      events,
    );
  });

  it('makes no SQS call for no events (SQS refuses an empty batch)', async () => {
    await new SqsDeadLetters(DEAD_LETTER_QUEUE_URL, sqs()).send([]);

    expect(aws.calls).toEqual([]);
  });

  it('throws when SendMessageBatch answers Failed entries, so the publisher does not count them as kept', async () => {
    // The first entry taken, the second refused.
    aws.inject({
      operation: 'SendMessageBatch',
      refuse: (_, index) => (index === 1 ? 'InternalError' : undefined),
    });

    await expect(
      new SqsDeadLetters(DEAD_LETTER_QUEUE_URL, sqs()).send([connectionEvent(1), connectionEvent(2)]),
    ).rejects.toThrow('SQS refused 1 dead letter(s)');
  });

  it('lets the SDK retry a throttled SendMessageBatch and keeps the dead letters once SQS takes them', async () => {
    aws.inject(
      serviceError(
        403,
        'com.amazonaws.sqs#RequestThrottled',
        { 'x-amzn-query-error': 'RequestThrottled;Sender' },
        1,
      ),
    );

    await new SqsDeadLetters(DEAD_LETTER_QUEUE_URL, sqs()).send([connectionEvent(1)]);

    expect(aws.calls.map((call) => call.attempt)).toEqual(['attempt=1; max=3', 'attempt=2; max=3']);
    expect(batchOf(aws.calls[1])).toEqual(batchOf(aws.calls[0]));
  });

  it('throws the SQS error after three attempts at HTTP 500', async () => {
    aws.inject(
      serviceError(500, 'com.amazonaws.sqs#InternalError', {
        'x-amzn-query-error': 'InternalError;Receiver',
      }),
    );

    await expect(
      new SqsDeadLetters(DEAD_LETTER_QUEUE_URL, sqs()).send([connectionEvent(1)]),
    ).rejects.toMatchObject({ name: 'InternalError', $metadata: { httpStatusCode: 500 } });
    expect(aws.calls).toHaveLength(3);
  });
});

describe('SqsDeletionQueue through the SQS client', () => {
  const job = { reference_id: 'app-user-1', deletion_id: 'deletion-1' };

  it('sends the job as the message body to the deletion queue, with its delay, in one signed SendMessage', async () => {
    await new SqsDeletionQueue(DELETION_QUEUE_URL, sqs()).enqueue(job, 30);

    expect(aws.calls).toHaveLength(1);
    const call = aws.calls[0];
    expectSignedCall(call, 'AmazonSQS.SendMessage', 'application/x-amz-json-1.0', 'sqs');
    expect(call?.input).toEqual({
      QueueUrl: DELETION_QUEUE_URL,
      MessageBody: JSON.stringify(job),
      DelaySeconds: 30,
    });
    // What the deletion worker parses out of the message.
    expect(JSON.parse(String(call?.input.MessageBody))).toEqual(job);
  });

  it.each([
    // Rounded up: the last sweep must not come before the grace is over.
    { delay: 0.2, sent: 1 },
    { delay: 29.01, sent: 30 },
    { delay: 0, sent: 0 },
    // The grace already passed: no delay rather than an invalid negative one.
    { delay: -4.5, sent: 0 },
    // SQS delays at most 15 minutes; the worker queues the job again if it is still early.
    { delay: 900, sent: 900 },
    { delay: 3_600, sent: 900 },
  ])('sends a delay of $delay s as DelaySeconds $sent', async ({ delay, sent }) => {
    await new SqsDeletionQueue(DELETION_QUEUE_URL, sqs()).enqueue(job, delay);

    expect(aws.calls.map((call) => call.input.DelaySeconds)).toEqual([sent]);
  });

  it('lets the SDK retry a throttled SendMessage and resolves once SQS takes it', async () => {
    aws.inject(
      serviceError(
        403,
        'com.amazonaws.sqs#RequestThrottled',
        { 'x-amzn-query-error': 'RequestThrottled;Sender' },
        1,
      ),
    );

    await new SqsDeletionQueue(DELETION_QUEUE_URL, sqs()).enqueue(job, 5);

    expect(aws.calls.map((call) => call.attempt)).toEqual(['attempt=1; max=3', 'attempt=2; max=3']);
    expect(aws.calls[1]?.input).toEqual(aws.calls[0]?.input);
  });

  it.each([
    { status: 500, type: 'InternalError', query: 'InternalError;Receiver', calls: 3 },
    {
      status: 400,
      type: 'QueueDoesNotExist',
      query: 'AWS.SimpleQueueService.NonExistentQueue;Sender',
      calls: 1,
    },
  ])(
    'rejects with SQS $type (HTTP $status) after $calls attempt(s), so the deletion is not taken as queued',
    async ({ status, type, query, calls }) => {
      aws.inject(serviceError(status, `com.amazonaws.sqs#${type}`, { 'x-amzn-query-error': query }));

      await expect(new SqsDeletionQueue(DELETION_QUEUE_URL, sqs()).enqueue(job, 5)).rejects.toMatchObject({
        name: type,
        $metadata: { httpStatusCode: status },
      });
      expect(aws.calls).toHaveLength(calls);
    },
  );
});

describe('the publisher with both adapters on the wire', () => {
  const payload = { steps: 4200, heart_rate: [61, 64, 70] };
  const key = 'users/user-1/2026/12/01/trace-1.json';
  // A data delivery recorded in the inbox: the publisher makes it a terra.data event, payload inline.
  const delivery: CommittedChange = {
    kind: 'delivery',
    new: {
      event_id: 'trace-1',
      status: 'processed',
      data: true,
      user_id: 'user-1',
      reference_id: 'app-user-1',
      provider: 'GARMIN',
      type: 'activity',
      received_at: '2026-12-01T10:00:00.000Z',
      archive_key: key,
      bytes: Buffer.byteLength(JSON.stringify(payload)),
      at: Date.parse('2026-12-01T10:00:00.000Z'),
      signed_at: Date.parse('2026-12-01T10:00:00.000Z') / 1000,
    },
  };

  async function publisherDeps() {
    const archive = new MemoryArchive();
    await archive.put(key, Buffer.from(JSON.stringify(payload)));
    const log = recordingLog();
    const deps: PublisherDeps = {
      bus: new EventBridgeBus(BUS_NAME, eventBridge()),
      deadLetters: new SqsDeadLetters(DEAD_LETTER_QUEUE_URL, sqs()),
      records: { read: async () => ({ state: 'missing' as const }) },
      requests: { track: async () => undefined },
      archive,
      log,
    };
    return { deps, log };
  }

  it('dead-letters to SQS, without its inline payload, the event EventBridge keeps refusing, and moves past the change', async () => {
    const { deps, log } = await publisherDeps();
    aws.inject({ operation: 'PutEvents', refuse: () => 'InternalFailure' });

    expect(await publishChanges(deps, [delivery])).toBeUndefined();

    expect(aws.calls.map((call) => call.headers['x-amz-target'])).toEqual([
      'AWSEvents.PutEvents',
      'AWSEvents.PutEvents',
      'AWSEvents.PutEvents',
      'AmazonSQS.SendMessageBatch',
    ]);
    const published = JSON.parse(entriesOf(aws.calls[0])[0]?.Detail ?? '{}') as DataDetail;
    expect(published.data).toEqual(payload);
    const deadLetter = JSON.parse(batchOf(aws.calls[3])[0]?.MessageBody ?? '{}') as BusEvent;
    expect(deadLetter).toEqual({
      detailType: 'terra.data',
      detail: { ...published, data: undefined },
    });
    expect('data' in deadLetter.detail).toBe(false);
    expect(deadLetter.detail).toMatchObject({ archive: { bucket: 'memory', key } });
    expect(log.entries).toContainEqual(
      expect.objectContaining({ level: 'warn', attributes: { outcome: 'dead_lettered', count: 1 } }),
    );
  });

  it('stops at the change when SQS refuses its dead letter, so the stream hands it over again', async () => {
    const { deps, log } = await publisherDeps();
    aws.inject({ operation: 'PutEvents', refuse: () => 'ThrottlingException' });
    aws.inject({ operation: 'SendMessageBatch', refuse: () => 'InternalError' });

    expect(await publishChanges(deps, [delivery])).toBe(0);
    expect(log.entries).toContainEqual(expect.objectContaining({ level: 'error', message: 'publish' }));
  });
});
