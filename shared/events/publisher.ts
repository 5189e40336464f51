import type { DataRequest, RequestFacts } from '#shared/backfill/model';
import type { ConnectionRecord } from '#shared/connections/model';
import type { Log } from '#shared/log';
import { type Archive, bodyHashOfKey } from '#shared/webhooks/archive';
import {
  type BusEvent,
  type DataDetail,
  type EventBus,
  entryBytes,
  MAX_ENTRY_BYTES,
  stableId,
} from './bus-events.ts';
import { type ItemChange, type OutboxAction, outboxActions } from './outbox.ts';

/**
 * The publisher: reads committed changes (in AWS, from the tables' streams; locally, the same streams of
 * DynamoDB Local) in order, counts payloads against their data requests, and publishes what the app
 * should hear. At least once: a change whose publication failed is retried; events the bus refused
 * after retries go to a dead-letter queue for `npm run ops -- redrive`.
 */
export interface PublisherDeps {
  bus: EventBus;
  /** The connection record of a Terra user: who owns a payload, and whether the user was deleted. */
  records: {
    read(
      user_id: string,
    ): Promise<{ state: 'live'; record: ConnectionRecord } | { state: 'deleted' | 'missing' }>;
  };
  requests: {
    track(user_id: string, reference: string, facts: RequestFacts): Promise<DataRequest | undefined>;
  };
  archive: Archive;
  deadLetters: { send(events: readonly BusEvent[]): Promise<void> };
  /** Deliveries parked for a Terra user nobody owned (docs/decisions/0020): applied once it has a record. */
  parked?: { drain(user_id: string): Promise<number> };
  /** Locally the publisher also starts backfills; in AWS a function of its own does (it talks to Terra). */
  startBackfill?: (record: Record<string, unknown>) => Promise<void>;
  log: Log;
}

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** Applies one change's tracking and answers the events it produces. */
async function eventsOf(deps: PublisherDeps, actions: readonly OutboxAction[]): Promise<BusEvent[]> {
  const events: BusEvent[] = [];
  let request: DataRequest | undefined;
  for (const action of actions) {
    switch (action.kind) {
      case 'track': {
        const delivery = action.delivery;
        const type = str(delivery.type) ?? 'unknown';
        const facts: RequestFacts = {};
        if (delivery.data === true) {
          facts.event_id = String(delivery.event_id);
          facts.data_type = type;
        }
        if (type === 'large_request_processing') facts.large = true;
        if (type === 'large_request_sending') {
          facts.large = true;
          if (typeof delivery.expected_payloads === 'number') facts.expected = delivery.expected_payloads;
        }
        const reference_id = str(delivery.reference_id);
        if (reference_id) facts.reference_id = reference_id;
        request = await deps.requests.track(
          String(delivery.user_id),
          String(delivery.terra_reference),
          facts,
        );
        break;
      }
      case 'data': {
        const event = await dataEvent(deps, action.delivery, request);
        if (event) events.push(event);
        break;
      }
      case 'connection':
        events.push({ detailType: 'terra.connection', detail: action.detail });
        break;
      case 'backfill':
        events.push({ detailType: 'terra.backfill', detail: action.detail });
        break;
      case 'user_deleted': {
        const job = action.job;
        const reference_id = String(job.reference_id);
        const deletion_id = String(job.deletion_id);
        events.push({
          detailType: 'terra.user_deleted',
          detail: {
            id: stableId('user_deleted', deletion_id),
            reference_id,
            deletion_id,
            user_ids: Array.isArray(job.user_ids) ? job.user_ids.map(String) : [],
            deleted_at: str(job.finished_at) ?? new Date().toISOString(),
          },
        });
        break;
      }
      case 'backfill_start':
        await deps.startBackfill?.(action.record);
        break;
      case 'drain':
        await deps.parked?.drain(action.user_id);
        break;
    }
  }
  return events;
}

/** `terra.data` for a recorded data delivery: the app user resolved, the payload inline when it fits. */
async function dataEvent(
  deps: PublisherDeps,
  delivery: Record<string, unknown>,
  request: DataRequest | undefined,
): Promise<BusEvent | undefined> {
  const user_id = String(delivery.user_id);
  const stored = await deps.records.read(user_id);
  // A user deleted since: nothing about it goes out any more.
  if (stored.state === 'deleted') return undefined;
  const owner = stored.state === 'live' ? stored.record.reference_id : undefined;
  const key = str(delivery.payload_key) ?? String(delivery.archive_key);
  const detail: DataDetail = {
    // The user and the body Terra signed, not the trace id: the trace id is not signed, so a copy of a
    // signed delivery resent under another one must still be the same event to a consumer.
    id: stableId('data', user_id, bodyHashOfKey(String(delivery.archive_key)) ?? String(delivery.event_id)),
    event_id: String(delivery.event_id),
    // Only deliveries of Terra's data types are recorded as data (shared/terra/events.ts).
    type: String(delivery.type) as DataDetail['type'],
    // The record says whose data it is (the connection events decide it); the payload's own claim only
    // stands in while no record names an app user.
    reference_id: owner ?? str(delivery.reference_id) ?? null,
    user_id,
    provider: str(delivery.provider) ?? null,
    received_at: String(delivery.received_at),
    archive: { bucket: deps.archive.location, key },
    bytes: typeof delivery.bytes === 'number' ? delivery.bytes : 0,
    backfill: request?.origin === 'backfill',
  };
  const terraReference = str(delivery.terra_reference);
  if (terraReference) detail.terra_reference = terraReference;
  const event: BusEvent = { detailType: 'terra.data', detail };
  // Inline only when the whole entry still fits; otherwise the archive pointer is the claim check.
  const budget = MAX_ENTRY_BYTES - entryBytes(event) - '"data":,'.length;
  if (detail.bytes > 0 && detail.bytes < budget) {
    const body = await deps.archive.get(key);
    if (body && body.length < budget) {
      try {
        detail.data = JSON.parse(body.toString('utf8'));
      } catch {
        // Not JSON (it was archived as received): the claim check alone.
      }
    }
  }
  return event;
}

/**
 * Publishes the changes in order. Answers the index of the first change that could not be handled
 * (the stream resumes there), or undefined when all were.
 */
export async function publishChanges(
  deps: PublisherDeps,
  changes: readonly ItemChange[],
): Promise<number | undefined> {
  for (const [index, change] of changes.entries()) {
    try {
      const events = await eventsOf(deps, outboxActions(change));
      if (events.length === 0) continue;
      const refused = await deps.bus.publish(events);
      if (refused.length > 0) {
        // Without the payload inline: a dead letter must fit a queue message; the pointer still works.
        await deps.deadLetters.send(refused.map(withoutInlineData));
        deps.log.warn('publish', { outcome: 'dead_lettered', count: refused.length });
      }
    } catch (error) {
      deps.log.error('publish', {
        outcome: 'error',
        error: error instanceof Error ? { name: error.name, message: error.message } : 'unknown',
      });
      return index;
    }
  }
  return undefined;
}

export function withoutInlineData(event: BusEvent): BusEvent {
  if (event.detailType !== 'terra.data' || event.detail.data === undefined) return event;
  const { data: _data, ...detail } = event.detail;
  return { detailType: 'terra.data', detail };
}
