import type { DataRequest, RequestFacts, RequestStatus } from '#shared/backfill/model';
import type { ConnectionRecord } from '#shared/connections/model';
import type { DeletionJob } from '#shared/privacy/deletion';
import type { DeliveryFacts, DeliveryStatus } from '#shared/webhooks/ports';
import type { BackfillDetail, ConnectionDetail } from './bus-events.ts';
import { stableId } from './bus-events.ts';

/**
 * The transactional outbox (docs/decisions/0009-outbox-from-streams.md): the tables' own change streams
 * say what committed, and this module, pure, says what each committed change means to the app. A change
 * that did not commit produces no stream record, so no event; a stream record delivered twice produces
 * the same event ids. It reads changes in the domain's terms only: turning stream images into them is
 * the store's job (shared/store/stream-changes.ts).
 */

/** A delivery as the inbox recorded it (received at an ISO time, with where it stands). */
export type RecordedDelivery = Omit<DeliveryFacts, 'received_at'> & {
  status: DeliveryStatus;
  received_at: string;
};

/** A data request as committed: its status is settled by a write after the first, so it may have none yet. */
export type CommittedRequest = Omit<DataRequest, 'status'> & { status?: RequestStatus };

/** One committed change of one item, before and after (absent: created, or removed). */
export type CommittedChange =
  /** A connection record; a record that moves to another app user is removed and created. */
  | { kind: 'connection'; old?: ConnectionRecord; new?: ConnectionRecord }
  | { kind: 'delivery'; old?: RecordedDelivery; new?: RecordedDelivery }
  | { kind: 'data_request'; old?: CommittedRequest; new?: CommittedRequest }
  | { kind: 'deletion'; old?: DeletionJob; new?: DeletionJob }
  /** Kept beside the deliveries, never heard of by the app: owner guards and tombstones, parked lists, SDK claims, the reconcile's checkpoint. */
  | { kind: 'bookkeeping'; item: 'owner' | 'parked' | 'sdk_claim' | 'checkpoint' }
  /** An item that could not be read as any of these: nothing is published for it (the publisher logs it). */
  | { kind: 'unknown'; table: 'connections' | 'inbox'; reason: string };

export type OutboxAction =
  /** A connection's status changed: `terra.connection`. */
  | { kind: 'connection'; detail: ConnectionDetail }
  /** A tracked data request completed or failed: `terra.backfill`. */
  | { kind: 'backfill'; detail: BackfillDetail }
  /** A data delivery was recorded: `terra.data` (resolved, possibly inlined, by the publisher). */
  | { kind: 'data'; delivery: RecordedDelivery & { user_id: string } }
  /** A payload or announcement of a data request arrived: count it against its request. */
  | { kind: 'track'; user_id: string; reference: string; facts: RequestFacts }
  /** A Terra user became active for the first time: ask Terra for its history. */
  | { kind: 'backfill_start'; record: ConnectionRecord }
  /** A deletion finished: `terra.user_deleted`. */
  | { kind: 'user_deleted'; job: DeletionJob }
  /** A Terra user got its first record (its owner is known): apply what was parked for it. */
  | { kind: 'drain'; user_id: string };

function connectionChange(
  old: ConnectionRecord | undefined,
  next: ConnectionRecord | undefined,
): OutboxAction[] {
  if (next === undefined) return [];
  const { status } = next;
  const previous = old?.status;
  const actions: OutboxAction[] = [];
  if (old === undefined) actions.push({ kind: 'drain', user_id: next.user_id });
  if (previous !== status) {
    const stamp = next.clock.status;
    const detail: ConnectionDetail = {
      // The status's own stamp names the event that set it: stable across redeliveries of both.
      id: stableId('connection', next.user_id, status, stamp ?? ''),
      user_id: next.user_id,
      reference_id: next.reference_id ?? null,
      provider: next.provider ?? null,
      status,
      previous_status: previous ?? null,
      at: atOfStamp(stamp) ?? next.updated_at ?? next.last_webhook_update ?? '',
    };
    for (const field of ['reason', 'replaced_by', 'replaces'] as const) {
      const value = next[field];
      if (value !== undefined) detail[field] = value;
    }
    actions.push({ kind: 'connection', detail });
  }
  // History is asked for once a Terra user is first known connected; the plan makes it once only.
  if (status === 'active' && previous !== 'active') {
    actions.push({ kind: 'backfill_start', record: next });
  }
  return actions;
}

/** A stamp starts with the event's ordering time in epoch ms (transitions.ts `stampOf`). */
function atOfStamp(stamp: string | undefined): string | undefined {
  const ms = stamp === undefined ? Number.NaN : Number(stamp.split('.')[0]);
  return Number.isFinite(ms) && ms > 0 ? new Date(ms).toISOString() : undefined;
}

function requestChange(
  old: CommittedRequest | undefined,
  next: CommittedRequest | undefined,
): OutboxAction[] {
  const status = next?.status;
  if (next === undefined || (status !== 'complete' && status !== 'failed') || old?.status === status)
    return [];
  const detail: BackfillDetail = {
    id: stableId('backfill', next.user_id, next.reference, status),
    user_id: next.user_id,
    reference_id: next.reference_id ?? null,
    reference: next.reference,
    // Named by a data payload or by the backfill's own request: one of Terra's data types.
    type: (next.data_type as BackfillDetail['type'] | undefined) ?? 'unknown',
    status,
    expected: next.expected ?? null,
    received: next.received.length,
    from: next.from ?? null,
    to: next.to ?? null,
  };
  if (next.reason !== undefined) detail.reason = next.reason;
  return [{ kind: 'backfill', detail }];
}

function deliveryChange(
  old: RecordedDelivery | undefined,
  next: RecordedDelivery | undefined,
): OutboxAction[] {
  // Only the first time a delivery is processed: a replay of a stale one counts, a repeat write does not.
  if (next?.status !== 'processed' || old?.status === 'processed') return [];
  const { user_id } = next;
  if (user_id === undefined) return [];
  const actions: OutboxAction[] = [];
  if (next.terra_reference !== undefined) {
    actions.push({ kind: 'track', user_id, reference: next.terra_reference, facts: requestFacts(next) });
  }
  if (next.data === true) actions.push({ kind: 'data', delivery: { ...next, user_id } });
  return actions;
}

/** What a processed delivery tells the data request it names (`terra-reference`). */
function requestFacts(delivery: RecordedDelivery): RequestFacts {
  const facts: RequestFacts = {};
  if (delivery.data === true) {
    facts.event_id = delivery.event_id;
    facts.data_type = delivery.type;
  }
  if (delivery.type === 'large_request_processing') facts.large = true;
  if (delivery.type === 'large_request_sending') {
    facts.large = true;
    if (delivery.expected_payloads !== undefined) facts.expected = delivery.expected_payloads;
  }
  if (delivery.reference_id) facts.reference_id = delivery.reference_id;
  return facts;
}

/** What one committed change means to the app. */
export function outboxActions(change: CommittedChange): OutboxAction[] {
  switch (change.kind) {
    case 'connection':
      return connectionChange(change.old, change.new);
    case 'delivery':
      return deliveryChange(change.old, change.new);
    case 'data_request':
      return requestChange(change.old, change.new);
    case 'deletion':
      return change.new?.status === 'done' && change.old?.status !== 'done'
        ? [{ kind: 'user_deleted', job: change.new }]
        : [];
    case 'bookkeeping':
    case 'unknown':
      return [];
  }
}
