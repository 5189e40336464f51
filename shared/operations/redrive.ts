import type { BusEvent, EventBus } from '#shared/events/bus-events';
import type { CommittedChange } from '#shared/events/outbox';
import { type PublisherDeps, publishChanges } from '#shared/events/publisher';
import type { OnProgress, StreamBatch } from './ports.ts';

/**
 * `ops redrive`: events the app should have received but that failed to publish, published again.
 * Deployed, they wait in the dead-letter queue in two shapes: an event the bus refused (the publisher
 * wrote it whole), or Lambda's record of a stream batch the publisher failed on (its records are read
 * back from the stream and published by the same publisher code). A message is deleted only once what
 * it stands for was published. Locally, they wait in `dead-letters.jsonl` (ops/dead-letters.ts).
 */
export interface RedriveResult {
  /** The event's stable id, or the queue message's id for a stream batch. */
  id: string;
  kind: 'event' | 'stream_batch' | 'unrecognised';
  detail_type?: string;
  outcome: 'redriven' | 'failed';
  reason?: string;
  /** For a stream batch: how many item changes it held. */
  changes?: number;
}

export interface RedriveSummary {
  results: RedriveResult[];
  redriven: number;
  failed: number;
}

export function summary(results: RedriveResult[]): RedriveSummary {
  const redriven = results.filter((result) => result.outcome === 'redriven').length;
  return { results, redriven, failed: results.length - redriven };
}

/** A line of the dead letters, or a queue message's body, if it is a published event. */
export function asBusEvent(value: unknown): BusEvent | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const { detailType, detail } = value as { detailType?: unknown; detail?: unknown };
  if (typeof detailType !== 'string' || !detailType.startsWith('terra.')) return undefined;
  if (detail === null || typeof detail !== 'object' || typeof (detail as { id?: unknown }).id !== 'string') {
    return undefined;
  }
  return { detailType, detail } as BusEvent;
}

export function asStreamBatch(value: unknown): StreamBatch | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const info = (value as { DDBStreamBatchInfo?: unknown }).DDBStreamBatchInfo;
  if (info === null || typeof info !== 'object') return undefined;
  const { streamArn, shardId, startSequenceNumber, endSequenceNumber } = info as Record<string, unknown>;
  if (
    typeof streamArn !== 'string' ||
    typeof shardId !== 'string' ||
    typeof startSequenceNumber !== 'string' ||
    typeof endSequenceNumber !== 'string'
  ) {
    return undefined;
  }
  return { streamArn, shardId, startSequenceNumber, endSequenceNumber };
}

export interface QueueMessage {
  id: string;
  receipt: string;
  body: string;
}

export interface DeadLetterQueue {
  /** Up to 10 messages, hidden from other readers while this run works on them. */
  receive(): Promise<QueueMessage[]>;
  delete(message: QueueMessage): Promise<void>;
  /** Roughly how many messages wait (for the progress bar and to bound the run). */
  approximateCount(): Promise<number>;
}

export interface QueueRedriveDeps {
  queue: DeadLetterQueue;
  bus: EventBus;
  streams: { read(batch: StreamBatch): Promise<CommittedChange[]> };
  /** The publisher's wiring (its bus, its dead letters, the stores) for stream batches. */
  publisher: PublisherDeps;
}

function parse(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return undefined;
  }
}

const reasonOf = (error: unknown) =>
  error instanceof Error ? `${error.name}: ${error.message}` : 'unknown error';

async function redriveMessage(deps: QueueRedriveDeps, message: QueueMessage): Promise<RedriveResult> {
  const value = parse(message.body);
  const event = asBusEvent(value);
  if (event) {
    const base = { id: event.detail.id, kind: 'event' as const, detail_type: event.detailType };
    try {
      const refused = await deps.bus.publish([event]);
      if (refused.length > 0) return { ...base, outcome: 'failed', reason: 'the bus refused it again' };
    } catch (error) {
      return { ...base, outcome: 'failed', reason: reasonOf(error) };
    }
    await deps.queue.delete(message);
    return { ...base, outcome: 'redriven' };
  }
  const batch = asStreamBatch(value);
  if (batch) {
    const base = { id: message.id, kind: 'stream_batch' as const };
    try {
      const changes = await deps.streams.read(batch);
      // What the bus still refuses goes back to the dead letters as events of its own (the publisher's
      // way); the batch itself is then done.
      const failedAt = await publishChanges(deps.publisher, changes);
      if (failedAt !== undefined) {
        return {
          ...base,
          changes: changes.length,
          outcome: 'failed',
          reason: `change ${failedAt + 1} could not be published`,
        };
      }
      await deps.queue.delete(message);
      return { ...base, changes: changes.length, outcome: 'redriven' };
    } catch (error) {
      return { ...base, outcome: 'failed', reason: reasonOf(error) };
    }
  }
  return {
    id: message.id,
    kind: 'unrecognised',
    outcome: 'failed',
    reason: 'neither an event nor a stream batch record',
  };
}

/**
 * Works through the queue until it is empty, or until it has seen as many messages as waited when it
 * started (and a margin): events it dead-letters again itself are left for the next run.
 */
export async function redriveQueue(deps: QueueRedriveDeps, onProgress?: OnProgress): Promise<RedriveSummary> {
  const waiting = await deps.queue.approximateCount();
  const bound = waiting + 100;
  const seen = new Set<string>();
  const results: RedriveResult[] = [];
  onProgress?.(0, waiting);
  while (seen.size < bound) {
    const messages = (await deps.queue.receive()).filter((message) => !seen.has(message.id));
    if (messages.length === 0) break;
    for (const message of messages) {
      seen.add(message.id);
      results.push(await redriveMessage(deps, message));
      onProgress?.(results.length, Math.max(waiting, results.length));
    }
  }
  return summary(results);
}

/** Local dead letters: each event sent again through `send`, which answers why not when it was not taken. */
export async function redriveEvents(
  events: ReadonlyArray<{ event: BusEvent }>,
  send: (event: BusEvent) => Promise<string | undefined>,
  onProgress?: OnProgress,
): Promise<RedriveResult[]> {
  const results: RedriveResult[] = [];
  onProgress?.(0, events.length);
  for (const { event } of events) {
    const base = { id: event.detail.id, kind: 'event' as const, detail_type: event.detailType };
    let problem: string | undefined;
    try {
      problem = await send(event);
    } catch (error) {
      problem = reasonOf(error);
    }
    results.push(
      problem === undefined
        ? { ...base, outcome: 'redriven' }
        : { ...base, outcome: 'failed', reason: problem },
    );
    onProgress?.(results.length, events.length);
  }
  return results;
}
