import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  type _Record,
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import { toCommittedChange } from '#shared/aws/streams';
import { startBackfill } from '#shared/backfill/start';
import type { Env } from '#shared/config';
import { SECTIONS } from '#shared/config';
import type { ConnectionRecord } from '#shared/connections/model';
import { type BusEvent, EVENT_SOURCE, type EventBus } from '#shared/events/bus-events';
import { publishChanges } from '#shared/events/publisher';
import { logger } from '#shared/log';
import { backfillDeps } from '#shared/runtime/backfill';
import { storeWiring } from '#shared/runtime/store';
import { archiveOf } from '#shared/runtime/webhook';
import { BackfillStore } from '#shared/store/backfill';
import { DeliveryStore } from '#shared/store/deliveries';
import { deadLetterJournal, TARGET_QUEUE_FILE, TargetForwarder } from './target-forwarder.ts';

/**
 * Local mode's outbox publisher (docs/architecture.md, "Local mode"): where AWS attaches a
 * stream-triggered Lambda to each table, this reads the same change streams of DynamoDB Local and runs
 * the same publisher code. The "bus" is the demo page's feed and, when EVENT_TARGET_URL is set, a POST
 * of each event in EventBridge's envelope to the team's own server (local/target-forwarder.ts: journaled
 * before the checkpoint moves, several Terra users at once, each in order, never holding up the feed;
 * what fails or is still queued at stop is kept in `dead-letters.jsonl` for `npm run ops -- redrive`).
 */
export interface EventEnvelope {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: unknown;
}

export interface FeedEntry {
  seq: number;
  envelope: EventEnvelope;
}

export interface LocalPipeline {
  /** The feed, oldest first; `after` a sequence number for what is new. */
  feed(after?: number): FeedEntry[];
  /** Resolves once every committed change so far has been published (tests, the ops CLI). */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

const FEED_SIZE = 500;
const POLL_MS = 200;

export const DEAD_LETTER_FILE = 'dead-letters.jsonl';
const CHECKPOINT_FILE = 'stream-checkpoints.json';

export function envelopeOf(event: BusEvent, time = new Date()): EventEnvelope {
  return {
    version: '0',
    // Locally the envelope id is the stable detail id; in AWS EventBridge assigns a fresh one.
    id: event.detail.id,
    'detail-type': event.detailType,
    source: EVENT_SOURCE,
    account: '000000000000',
    time: time.toISOString(),
    region: 'local',
    resources: [],
    detail: event.detail,
  };
}

class LocalBus implements EventBus {
  private readonly entries: FeedEntry[] = [];
  private seq = 0;

  constructor(
    private readonly forwarder: TargetForwarder | undefined,
    private readonly onEvent: ((envelope: EventEnvelope) => void) | undefined,
  ) {}

  async publish(events: readonly BusEvent[]): Promise<BusEvent[]> {
    for (const event of events) {
      const envelope = envelopeOf(event);
      this.onEvent?.(envelope);
      this.entries.push({ seq: ++this.seq, envelope });
      if (this.entries.length > FEED_SIZE) this.entries.shift();
      this.forwarder?.push(envelope);
    }
    return [];
  }

  feed(after = 0): FeedEntry[] {
    return this.entries.filter((entry) => entry.seq > after);
  }
}

const EXHAUSTED: { Records?: _Record[]; NextShardIterator?: string } = Object.freeze({});

/** Reads one table's stream shard by shard, from the last checkpoint, in order. */
class StreamReader {
  private iterators = new Map<string, string | null>();
  private caughtUp = false;

  constructor(
    private readonly streams: DynamoDBStreamsClient,
    readonly streamArn: string,
    private readonly checkpoints: Record<string, string>,
  ) {}

  /** The next records, or none; marks a shard done when it is closed and drained. */
  async read(): Promise<Array<{ shard: string; record: _Record }>> {
    const { StreamDescription } = await this.streams.send(
      new DescribeStreamCommand({ StreamArn: this.streamArn }),
    );
    const out: Array<{ shard: string; record: _Record }> = [];
    let pending = false;
    const shards = StreamDescription?.Shards ?? [];
    const listed = new Set(shards.map((shard) => shard.ShardId));
    for (const shard of shards) {
      const id = shard.ShardId ?? '';
      if (this.iterators.get(id) === null) continue;
      // A child shard only after its parent is drained: per-item order holds across a split.
      const parent = shard.ParentShardId;
      if (parent && listed.has(parent) && this.iterators.get(parent) !== null) continue;
      let page: { Records?: _Record[]; NextShardIterator?: string | undefined };
      try {
        page = await this.getRecords(id);
      } catch (error) {
        // DynamoDB Local may refuse an iterator taken before a shard's first record ("past the oldest
        // stream record"), and any iterator expires after 15 minutes: take a fresh one from the checkpoint.
        const name = (error as Error).name;
        if (name !== 'TrimmedDataAccessException' && name !== 'ExpiredIteratorException') throw error;
        this.iterators.delete(id);
        page = await this.getRecords(id);
      }
      if (page === EXHAUSTED) {
        this.iterators.set(id, null);
        continue;
      }
      for (const record of page.Records ?? []) out.push({ shard: id, record });
      this.iterators.set(id, page.NextShardIterator ?? null);
      if ((page.Records ?? []).length > 0) pending = true;
    }
    this.caughtUp = !pending;
    return out;
  }

  /** One page of a shard, from its current iterator or a fresh one taken at the checkpoint. */
  private async getRecords(
    id: string,
  ): Promise<{ Records?: _Record[]; NextShardIterator?: string | undefined }> {
    let iterator = this.iterators.get(id);
    if (iterator === undefined) {
      const after = this.checkpoints[id];
      const result = await this.streams.send(
        new GetShardIteratorCommand({
          StreamArn: this.streamArn,
          ShardId: id,
          ShardIteratorType: after ? 'AFTER_SEQUENCE_NUMBER' : 'TRIM_HORIZON',
          ...(after ? { SequenceNumber: after } : {}),
        }),
      );
      iterator = result.ShardIterator ?? null;
    }
    if (iterator === null) return EXHAUSTED;
    return this.streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 100 }));
  }

  /** After a failure, re-read from the checkpoint rather than skip. */
  rewind(shard: string): void {
    this.iterators.delete(shard);
  }

  get idle(): boolean {
    return this.caughtUp;
  }
}

export async function startLocalPipeline(options: {
  admin: DynamoDBClient;
  env: Env;
  dataDir: string;
  eventTargetUrl?: string | undefined;
  /** Sees every event as it is published (the tests hold each to its JSON Schema); must not throw. */
  onEvent?: ((envelope: EventEnvelope) => void) | undefined;
}): Promise<LocalPipeline & { publisherBus: EventBus }> {
  const { env, dataDir } = options;
  const store = storeWiring(env);
  const tables = store.config;
  const checkpointFile = join(dataDir, CHECKPOINT_FILE);
  const checkpoints: Record<string, Record<string, string>> = existsSync(checkpointFile)
    ? (JSON.parse(readFileSync(checkpointFile, 'utf8')) as Record<string, Record<string, string>>)
    : {};
  const deadLetterFile = join(dataDir, DEAD_LETTER_FILE);
  const journal = join(dataDir, TARGET_QUEUE_FILE);
  // What an earlier run had queued is sent now, or, with no target any more, dead-lettered: never dropped.
  const forwarder = options.eventTargetUrl
    ? new TargetForwarder(options.eventTargetUrl, { journal, deadLetters: deadLetterFile })
    : undefined;
  if (!forwarder) deadLetterJournal(journal, deadLetterFile);
  const bus = new LocalBus(forwarder, options.onEvent);
  const backfill = backfillDeps(env);
  const backfills = new Set<Promise<void>>();
  const streams = new DynamoDBStreamsClient({
    endpoint: tables.dynamoEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 2,
  });

  const readers: StreamReader[] = [];
  for (const table of [tables.connectionsTable, tables.inboxTable]) {
    const { Table } = await options.admin.send(new DescribeTableCommand({ TableName: table }));
    const arn = Table?.LatestStreamArn;
    if (!arn) throw new Error(`table ${table} has no stream`);
    checkpoints[arn] ??= {};
    readers.push(new StreamReader(streams, arn, checkpoints[arn] ?? {}));
  }

  const deps = {
    bus,
    deadLetters: {
      async send(events: readonly BusEvent[]) {
        for (const event of events) appendFileSync(deadLetterFile, `${JSON.stringify(event)}\n`);
      },
    },
    records: store.connections,
    requests: new BackfillStore(store.doc, tables),
    parked: new DeliveryStore(store.doc, tables.inboxTable, store.connections, {
      ...SECTIONS.inbox.read(env),
      now: Date.now,
    }),
    archive: archiveOf(SECTIONS.archive.read(env)),
    log: logger,
    // As the backfill function's own stream consumer would: asynchronously, retried after a pause.
    startBackfill: async ({ user_id, reference_id }: ConnectionRecord) => {
      const run = (async () => {
        for (let attempt = 1; attempt <= 6 && !stopped; attempt++) {
          try {
            await startBackfill(backfill, { user_id, reference_id });
            return;
          } catch (error) {
            logger.warn('backfill', { outcome: 'retry', attempt, error: (error as Error).name });
            await new Promise((resolve) => setTimeout(resolve, 1_000 * 2 ** attempt));
          }
        }
      })();
      backfills.add(run);
      void run.finally(() => backfills.delete(run));
    },
  };

  let stopped = false;
  let rounds = 0;
  let waiters: Array<{ round: number; resolve: () => void }> = [];
  const loop = (async () => {
    while (!stopped) {
      let busy = false;
      for (const reader of readers) {
        let batch: Array<{ shard: string; record: _Record }>;
        try {
          batch = await reader.read();
        } catch (error) {
          if (!stopped) logger.warn('stream', { outcome: 'error', error: (error as Error).name });
          continue;
        }
        if (batch.length > 0) busy = true;
        const changes = batch.map(({ record }) =>
          toCommittedChange({ ...record, eventSourceARN: reader.streamArn } as never, tables),
        );
        const usable = batch.filter((_, i) => changes[i] !== undefined);
        const failed = await publishChanges(
          deps,
          changes.filter((change) => change !== undefined),
        );
        const done = failed === undefined ? usable : usable.slice(0, failed);
        for (const { shard, record } of done) {
          const seq = record.dynamodb?.SequenceNumber;
          const own = checkpoints[reader.streamArn];
          if (seq && own) own[shard] = seq;
        }
        if (failed !== undefined) {
          // Every shard with a record from the failed one on is read again from its checkpoint: a batch
          // may span shards, and none of them may skip what was not published.
          for (const shard of new Set(usable.slice(failed).map((entry) => entry.shard))) reader.rewind(shard);
        }
      }
      if (busy) writeFileSync(checkpointFile, JSON.stringify(checkpoints));
      rounds++;
      const ready = waiters.filter(
        (waiter) => rounds > waiter.round && !busy && readers.every((reader) => reader.idle),
      );
      waiters = waiters.filter((waiter) => !ready.includes(waiter));
      for (const waiter of ready) waiter.resolve();
      if (!busy) await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  })();

  return {
    publisherBus: bus,
    feed: (after) => bus.feed(after),
    settled: async () => {
      await new Promise<void>((resolve) => waiters.push({ round: rounds + 1, resolve }));
      await Promise.all([...backfills]);
      await forwarder?.idle();
    },
    stop: async () => {
      stopped = true;
      for (const waiter of waiters) waiter.resolve();
      // The last round may still hand events over: the forwarder stops after it, dead-lettering all it holds.
      await loop;
      await forwarder?.stop();
      streams.destroy();
      store.doc.destroy();
    },
  };
}
