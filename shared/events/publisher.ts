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
import { type CommittedChange, type OutboxAction, outboxActions, type RecordedDelivery } from './outbox.ts';

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
  startBackfill?: (record: ConnectionRecord) => Promise<void>;
  log: Log;
}

/** Applies one change's tracking and answers the events it produces. */
async function eventsOf(deps: PublisherDeps, actions: readonly OutboxAction[]): Promise<BusEvent[]> {
  const events: BusEvent[] = [];
  let request: DataRequest | undefined;
  for (const action of actions) {
    switch (action.kind) {
      case 'track':
        request = await deps.requests.track(action.user_id, action.reference, action.facts);
        break;
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
        const { job } = action;
        events.push({
          detailType: 'terra.user_deleted',
          detail: {
            id: stableId('user_deleted', job.deletion_id),
            reference_id: job.reference_id,
            deletion_id: job.deletion_id,
            user_ids: job.user_ids,
            deleted_at: job.finished_at ?? new Date().toISOString(),
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
  delivery: RecordedDelivery & { user_id: string },
  request: DataRequest | undefined,
): Promise<BusEvent | undefined> {
  const { user_id } = delivery;
  const stored = await deps.records.read(user_id);
  // A user deleted since: nothing about it goes out any more.
  if (stored.state === 'deleted') return undefined;
  const owner = stored.state === 'live' ? stored.record.reference_id : undefined;
  const key = delivery.payload_key ?? delivery.archive_key;
  const detail: DataDetail = {
    // The user and the body Terra signed, not the trace id: the trace id is not signed, so a copy of a
    // signed delivery resent under another one must still be the same event to a consumer.
    id: stableId('data', user_id, bodyHashOfKey(delivery.archive_key) ?? delivery.event_id),
    event_id: delivery.event_id,
    // Only deliveries of Terra's data types are recorded as data (shared/terra/events.ts).
    type: delivery.type as DataDetail['type'],
    // The record says whose data it is (the connection events decide it); the payload's own claim only
    // stands in while no record names an app user.
    reference_id: owner ?? delivery.reference_id ?? null,
    user_id,
    provider: delivery.provider ?? null,
    received_at: delivery.received_at,
    archive: { bucket: deps.archive.location, key },
    bytes: delivery.bytes,
    backfill: request?.origin === 'backfill',
  };
  if (delivery.terra_reference) detail.terra_reference = delivery.terra_reference;
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
  changes: readonly CommittedChange[],
): Promise<number | undefined> {
  for (const [index, change] of changes.entries()) {
    if (change.kind === 'unknown') {
      // Not what the store writes: nothing to tell the app, and retrying would not make it readable.
      deps.log.warn('publish', { outcome: 'unreadable', table: change.table, reason: change.reason });
      continue;
    }
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
