import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import {
  type _Record,
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { localClient } from '#local/dynamodb';
import { toCommittedChange } from '#shared/aws/streams';
import type { Change, ConnectionEvent } from '#shared/connections/model';
import { stampOf } from '#shared/connections/transitions';
import { type BusEvent, stableId } from '#shared/events/bus-events';
import type { CommittedChange } from '#shared/events/outbox';
import { publishChanges } from '#shared/events/publisher';
import type { DeletionJob } from '#shared/privacy/deletion';
import { BackfillStore } from '#shared/store/backfill';
import { CheckpointStore } from '#shared/store/checkpoints';
import { ConnectionStore } from '#shared/store/connections';
import { DeletionStore } from '#shared/store/deletions';
import { DeliveryStore } from '#shared/store/deliveries';
import { SdkClaimStore } from '#shared/store/sdk-claims';
import type { DeliveryFacts } from '#shared/webhooks/ports';
import { createTestTables, type TestTables } from '../helpers/dynamo.ts';
import { MemoryArchive, recordingLog } from '../helpers/memory-ports.ts';

/**
 * The outbox end to end on what the stores really write: items written through `shared/store/` on
 * DynamoDB Local, their stream records read back from DynamoDB Local's streams, and the publisher run
 * over them as the Lambda runs it (one table's batch at a time, in order, until the writes the publisher
 * makes itself have been published too). Every detail is compared as JSON text, so its bytes (field
 * order included) are pinned: a consumer that hashes or stores them sees no change.
 */
// Real time: DynamoDB Local's TTL would remove items that expired in the test's past.
const T0 = Math.floor(Date.now() / 1000) * 1000 - 60_000;
const NOW = T0 + 60_000;
const iso = (ms: number) => new Date(ms).toISOString();

let tables: TestTables;
let streams: DynamoDBStreamsClient;
let archive: MemoryArchive;
let published: BusEvent[];
let backfills: Array<{ user_id: unknown; reference_id: unknown }>;
let drained: string[];
let log: ReturnType<typeof recordingLog>;
/** Every change the decoder read off the streams, in order. */
let committed: CommittedChange[];
/** Where each table's stream was read up to, per shard. */
let positions: Map<string, Map<string, string>>;

beforeEach(async () => {
  tables = await createTestTables();
  streams = new DynamoDBStreamsClient({
    endpoint: tables.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  archive = new MemoryArchive();
  published = [];
  backfills = [];
  drained = [];
  log = recordingLog();
  committed = [];
  positions = new Map();
});
afterEach(() => {
  // Every item the stores wrote was read as what it is: none of it was left unreadable.
  expect(committed.filter((change) => change.kind === 'unknown')).toEqual([]);
  streams.destroy();
  tables.doc.destroy();
});

const connections = () => new ConnectionStore(tables.doc, tables);
const inbox = () =>
  new DeliveryStore(tables.doc, tables.inboxTable, connections(), {
    leaseSeconds: 15,
    ttlDays: 30,
    now: () => NOW,
  });
const requests = () => new BackfillStore(tables.doc, tables, () => NOW);

/** The records a table's stream holds past what was read before, in order. */
async function newRecords(table: string): Promise<{ arn: string; records: _Record[] }> {
  const admin = localClient(tables.endpoint);
  const { Table } = await admin.send(new DescribeTableCommand({ TableName: table }));
  admin.destroy();
  const arn = Table?.LatestStreamArn ?? '';
  const read = positions.get(arn) ?? new Map<string, string>();
  positions.set(arn, read);
  const { StreamDescription } = await streams.send(new DescribeStreamCommand({ StreamArn: arn }));
  const records: _Record[] = [];
  for (const { ShardId } of StreamDescription?.Shards ?? []) {
    const after = read.get(ShardId ?? '');
    const { ShardIterator } = await streams.send(
      new GetShardIteratorCommand({
        StreamArn: arn,
        ShardId,
        ShardIteratorType: after ? 'AFTER_SEQUENCE_NUMBER' : 'TRIM_HORIZON',
        ...(after ? { SequenceNumber: after } : {}),
      }),
    );
    let iterator = ShardIterator;
    for (let page = 0; iterator && page < 20; page++) {
      const result = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 100 }));
      const got = result.Records ?? [];
      if (got.length === 0) break;
      records.push(...got);
      read.set(ShardId ?? '', got.at(-1)?.dynamodb?.SequenceNumber ?? '');
      iterator = result.NextShardIterator;
    }
  }
  return { arn, records };
}

/**
 * Runs the publisher over both streams until they are quiet: its own writes (a request counted, a
 * parked delivery applied) are changes of their own, published on a later round.
 */
async function publishAll(): Promise<void> {
  for (let round = 0; round < 10; round++) {
    let seen = 0;
    for (const table of [tables.connectionsTable, tables.inboxTable]) {
      const { arn, records } = await newRecords(table);
      seen += records.length;
      const changes = records.flatMap((record) => {
        const change = toCommittedChange({ ...record, eventSourceARN: arn } as DynamoDBRecord, tables);
        return change ? [change] : [];
      });
      expect(changes).toHaveLength(records.length);
      committed.push(...changes);
      const failed = await publishChanges(
        {
          bus: {
            async publish(events) {
              published.push(...events);
              return [];
            },
          },
          deadLetters: {
            async send() {
              throw new Error('nothing is refused here');
            },
          },
          records: connections(),
          requests: requests(),
          parked: {
            drain: async (user_id) => {
              drained.push(user_id);
              return inbox().drain(user_id);
            },
          },
          archive,
          startBackfill: async (record) => {
            backfills.push({ user_id: record.user_id, reference_id: record.reference_id });
          },
          log,
        },
        changes,
      );
      expect(failed).toBeUndefined();
    }
    if (seen === 0) return;
  }
  throw new Error('the streams never went quiet');
}

const event = (
  user_id: string,
  reference_id: string | null,
  at: number,
  change: Change,
): ConnectionEvent => ({
  user_id,
  reference_id,
  provider: 'GARMIN',
  event_id: `evt-${user_id}-${at}`,
  at,
  change,
});

/** A delivery's facts as the receiver records them, its body archived where the key says. */
async function delivery(
  event_id: string,
  facts: Partial<DeliveryFacts>,
  body?: unknown,
): Promise<DeliveryFacts> {
  const archive_key = `users/${facts.user_id}/2030/01/01/${event_id}.0123456789abcdef.json`;
  const text = body === undefined ? '{}' : JSON.stringify(body);
  await archive.put(archive_key, Buffer.from(text));
  return {
    event_id,
    type: 'activity',
    archive_key,
    bytes: Buffer.byteLength(text),
    received_at: NOW,
    at: T0,
    signed_at: Math.floor(T0 / 1000),
    ...facts,
  };
}

/** The events published, as the JSON text the bus is handed. */
const wire = () => published.map((entry) => JSON.stringify(entry));

describe('connection records on the stream', () => {
  it('announce a new Terra user, start its history once, and each status change after', async () => {
    await connections().apply([event('user-a', 'app-1', T0, { kind: 'authenticated', scopes: ['daily'] })]);
    await publishAll();
    await connections().apply([event('user-a', 'app-1', T0 + 1_000, { kind: 'data' })]);
    await connections().apply([
      event('user-a', 'app-1', T0 + 2_000, { kind: 'connection_error', reason: 'token_expired' }),
    ]);
    await publishAll();

    const authenticated = event('user-a', 'app-1', T0, { kind: 'authenticated' });
    const failing = event('user-a', 'app-1', T0 + 2_000, { kind: 'connection_error' });
    const active = stableId('connection', 'user-a', 'active', stampOf(authenticated));
    const error = stableId('connection', 'user-a', 'error', stampOf(failing));
    expect(wire()).toEqual([
      `{"detailType":"terra.connection","detail":{"id":"${active}","user_id":"user-a","reference_id":"app-1","provider":"GARMIN","status":"active","previous_status":null,"at":"${iso(T0)}"}}`,
      `{"detailType":"terra.connection","detail":{"id":"${error}","user_id":"user-a","reference_id":"app-1","provider":"GARMIN","status":"error","previous_status":"active","at":"${iso(T0 + 2_000)}","reason":"token_expired"}}`,
    ]);
    expect(backfills).toEqual([{ user_id: 'user-a', reference_id: 'app-1' }]);
    expect(drained).toEqual(['user-a']);
  });
});

describe('deliveries and data requests on the stream', () => {
  it('count payloads against their request, announce each once, and the request when it completes', async () => {
    await connections().apply([event('user-a', 'app-1', T0, { kind: 'authenticated' })]);
    // What the backfill records when it asks Terra for a month in chunks.
    await requests().track('user-a', 'ref-large', {
      asked: { from: '2026-05-01', to: '2026-06-01', at: iso(T0), plain: false },
      data_type: 'sleep',
    });
    await publishAll();
    published.length = 0;

    const sending = await delivery('evt-sending', {
      type: 'large_request_sending',
      user_id: 'user-a',
      reference_id: 'app-1',
      terra_reference: 'ref-large',
      expected_payloads: 2,
    });
    await inbox().record(sending, 'processed', 'recorded');
    const payload = { type: 'sleep', user: { user_id: 'user-a' }, data: [{ n: 1 }] };
    for (const event_id of ['evt-1', 'evt-2']) {
      const facts = await delivery(
        event_id,
        {
          type: 'sleep',
          user_id: 'user-a',
          reference_id: 'app-1',
          provider: 'GARMIN',
          terra_reference: 'ref-large',
          data: true,
        },
        payload,
      );
      await inbox().record(facts, 'processed', 'applied');
      // A later write to a processed delivery (a copy counted) announces nothing more.
      await tables.doc.send(
        new UpdateCommand({
          TableName: tables.inboxTable,
          Key: { event_id },
          UpdateExpression: 'ADD attempts :one',
          ExpressionAttributeValues: { ':one': 1 },
        }),
      );
    }
    // A delivery that is not data, and one that failed: nothing for the app.
    await inbox().record(await delivery('evt-info', { type: 'healthcheck' }), 'ignored', 'informational');
    await inbox().recordFailed(
      await delivery('evt-failed', { type: 'sleep', user_id: 'user-a', data: true }),
      'expired',
    );
    await publishAll();

    const key = (event_id: string) => `users/user-a/2030/01/01/${event_id}.0123456789abcdef.json`;
    const data = (event_id: string) =>
      `{"detailType":"terra.data","detail":{"id":"${stableId('data', 'user-a', '0123456789abcdef')}","event_id":"${event_id}","type":"sleep","reference_id":"app-1","user_id":"user-a","provider":"GARMIN","received_at":"${iso(NOW)}","archive":{"bucket":"memory","key":"${key(event_id)}"},"bytes":${JSON.stringify(payload).length},"backfill":true,"terra_reference":"ref-large","data":${JSON.stringify(payload)}}}`;
    expect(wire()).toEqual([
      data('evt-1'),
      data('evt-2'),
      `{"detailType":"terra.backfill","detail":{"id":"${stableId('backfill', 'user-a', 'ref-large', 'complete')}","user_id":"user-a","reference_id":"app-1","reference":"ref-large","type":"sleep","status":"complete","expected":2,"received":2,"from":"2026-05-01","to":"2026-06-01"}}`,
    ]);
  });

  it('announce a request Terra failed with its reason', async () => {
    await connections().apply([event('user-a', 'app-1', T0, { kind: 'authenticated' })]);
    await requests().track('user-a', 'ref-1', { failed: 'terra_refused', data_type: 'daily' });
    await publishAll();

    const backfill = published
      .filter((entry) => entry.detailType === 'terra.backfill')
      .map((e) => JSON.stringify(e));
    expect(backfill).toEqual([
      `{"detailType":"terra.backfill","detail":{"id":"${stableId('backfill', 'user-a', 'ref-1', 'failed')}","user_id":"user-a","reference_id":null,"reference":"ref-1","type":"daily","status":"failed","expected":null,"received":0,"from":null,"to":null,"reason":"terra_refused"}}`,
    ]);
  });

  it('announce a parked delivery once its Terra user is owned, and not before', async () => {
    const facts = await delivery(
      'evt-parked',
      { type: 'daily', user_id: 'user-b', reference_id: 'app-2', provider: 'OURA', data: true, parked: true },
      { type: 'daily' },
    );
    expect(
      await inbox().park(
        facts,
        [{ ...event('user-b', 'app-2', T0, { kind: 'data' }), event_id: 'evt-parked' }],
        ['user-b'],
      ),
    ).toBe('parked');
    await publishAll();
    expect(published).toEqual([]);

    await connections().apply([event('user-b', 'app-2', T0 + 1_000, { kind: 'authenticated' })]);
    await publishAll();

    expect(published.map((entry) => entry.detailType)).toEqual(['terra.connection', 'terra.data']);
    expect(JSON.stringify(published[1]?.detail)).toBe(
      `{"id":"${stableId('data', 'user-b', '0123456789abcdef')}","event_id":"evt-parked","type":"daily","reference_id":"app-2","user_id":"user-b","provider":"OURA","received_at":"${iso(NOW)}","archive":{"bucket":"memory","key":"${facts.archive_key}"},"bytes":16,"backfill":false,"data":{"type":"daily"}}`,
    );
    expect(drained).toEqual(['user-b']);
    expect(committed).toContainEqual({ kind: 'bookkeeping', item: 'parked' });
  });
});

describe('deletion jobs and reserved items on the stream', () => {
  it('announce a finished deletion once; guards, tombstones, claims and checkpoints say nothing', async () => {
    await connections().apply([event('user-a', 'app-1', T0, { kind: 'authenticated' })]);
    await publishAll();
    published.length = 0;

    const jobs = new DeletionStore(tables.doc, tables, { tombstoneDays: 30, now: () => NOW });
    const job: DeletionJob = {
      deletion_id: 'del-1',
      reference_id: 'app-1',
      status: 'running',
      phase: 'collect',
      user_ids: ['user-a'],
      deauthorized: [],
      started_at: iso(NOW),
      counts: { connections: 0, deliveries: 0, payloads: 0 },
      version: 1,
    };
    await jobs.save(job);
    await jobs.tombstone('user-a', NOW);
    await new SdkClaimStore(tables.doc, tables.inboxTable, () => NOW).open('app-1', NOW + 60_000);
    await new CheckpointStore(tables.doc, tables.inboxTable, () => NOW).save({
      run_id: 'run-1',
      started_at: NOW,
      phase: 'terra',
    });
    const done = {
      ...job,
      status: 'done' as const,
      phase: 'done' as const,
      finished_at: iso(NOW + 5_000),
      version: 2,
    };
    await jobs.save(done);
    // Saved again (a late run re-saving the finished job): announced once.
    await jobs.save({ ...done, version: 3 });
    await publishAll();

    expect(wire()).toEqual([
      `{"detailType":"terra.user_deleted","detail":{"id":"${stableId('user_deleted', 'del-1')}","reference_id":"app-1","deletion_id":"del-1","user_ids":["user-a"],"deleted_at":"${iso(NOW + 5_000)}"}}`,
    ]);
    const bookkeeping = committed.flatMap((change) => (change.kind === 'bookkeeping' ? [change.item] : []));
    expect(new Set(bookkeeping)).toEqual(new Set(['owner', 'sdk_claim', 'checkpoint']));
    // The tombstone removed the record: a removal, read as one, that says nothing.
    expect(committed).toContainEqual({
      kind: 'connection',
      old: expect.objectContaining({ user_id: 'user-a' }),
    });
  });
});

describe('items the store does not write', () => {
  it('are skipped and logged, and the changes after them are still published', async () => {
    await connections().apply([event('user-a', 'app-1', T0, { kind: 'authenticated' })]);
    await publishAll();
    published.length = 0;
    const put = (Item: Record<string, unknown>) =>
      tables.doc.send(new PutCommand({ TableName: tables.inboxTable, Item }));
    // A processed data delivery missing what its event is built from (archive key, size, time).
    await put({ event_id: 'evt-bare', status: 'processed', data: true, user_id: 'user-a', type: 'sleep' });
    await put({ event_id: 'legacy#1', status: 'processed' });
    const facts = await delivery(
      'evt-ok',
      { type: 'sleep', user_id: 'user-a', data: true },
      { type: 'sleep' },
    );
    await inbox().record(facts, 'processed', 'applied');
    await publishAll();

    expect(published.map((entry) => entry.detail.id)).toEqual([
      stableId('data', 'user-a', '0123456789abcdef'),
    ]);
    const unreadable = committed.filter((change) => change.kind === 'unknown');
    expect(unreadable).toEqual([
      {
        kind: 'unknown',
        table: 'inbox',
        reason: 'delivery (new image): archive_key: expected string',
      },
      { kind: 'unknown', table: 'inbox', reason: 'an inbox item under a reserved key of no known kind' },
    ]);
    expect(log.entries.filter((entry) => entry.level === 'warn')).toEqual(
      unreadable.map((change) => ({
        level: 'warn',
        message: 'publish',
        attributes: { outcome: 'unreadable', table: 'inbox', reason: (change as { reason: string }).reason },
      })),
    );
    // Neither reason names a value from the item.
    expect(JSON.stringify(unreadable)).not.toMatch(/user-a|evt-bare|legacy/);
    committed = [];
  });
});
