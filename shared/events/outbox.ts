import type { ConnectionStatus } from '#shared/connections/model';
import type { BackfillDetail, ConnectionDetail } from './bus-events.ts';
import { stableId } from './bus-events.ts';

/**
 * The transactional outbox (docs/decisions/0009-outbox-from-streams.md): the tables' own change streams
 * say what committed, and this module, pure, says what each committed change means to the app. A change
 * that did not commit produces no stream record, so no event; a stream record delivered twice produces
 * the same event ids.
 */

type Image = Record<string, unknown>;

/** One change of one item, as a DynamoDB stream record carries it (images already unmarshalled). */
export interface ItemChange {
  table: 'connections' | 'inbox';
  old?: Image;
  new?: Image;
}

export type OutboxAction =
  /** A connection's status changed: `terra.connection`. */
  | { kind: 'connection'; detail: ConnectionDetail }
  /** A tracked data request completed or failed: `terra.backfill`. */
  | { kind: 'backfill'; detail: BackfillDetail }
  /** A data delivery was recorded: `terra.data` (resolved, possibly inlined, by the publisher). */
  | { kind: 'data'; delivery: Image }
  /** A payload or announcement of a data request arrived: count it against its request. */
  | { kind: 'track'; delivery: Image }
  /** A Terra user became active for the first time: ask Terra for its history. */
  | { kind: 'backfill_start'; record: Image }
  /** A deletion finished: `terra.user_deleted`. */
  | { kind: 'user_deleted'; job: Image }
  /** A Terra user got its first record (its owner is known): apply what was parked for it. */
  | { kind: 'drain'; user_id: string };

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

function connectionChange(change: ItemChange): OutboxAction[] {
  const next = change.new;
  if (typeof next?.status !== 'string') return [];
  const status = next.status as ConnectionStatus;
  const previous = str(change.old?.status) as ConnectionStatus | undefined;
  const actions: OutboxAction[] = [];
  if (change.old === undefined) actions.push({ kind: 'drain', user_id: String(next.user_id) });
  if (previous !== status) {
    const clock = (next.clock ?? {}) as Record<string, unknown>;
    const detail: ConnectionDetail = {
      // The status's own stamp names the event that set it: stable across redeliveries of both.
      id: stableId('connection', String(next.user_id), status, str(clock.status) ?? ''),
      user_id: String(next.user_id),
      reference_id: str(next.reference_id) ?? null,
      provider: str(next.provider) ?? null,
      status,
      previous_status: previous ?? null,
      at: atOfStamp(str(clock.status)) ?? str(next.updated_at) ?? str(next.last_webhook_update) ?? '',
    };
    for (const field of ['reason', 'replaced_by', 'replaces'] as const) {
      const value = str(next[field]);
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

function requestChange(change: ItemChange): OutboxAction[] {
  const next = change.new;
  const key = str(next?.event_id);
  if (!next || key === undefined || !key.startsWith('request#')) return [];
  const status = str(next.status);
  if ((status !== 'complete' && status !== 'failed') || str(change.old?.status) === status) return [];
  const received =
    next.received instanceof Set
      ? next.received.size
      : Array.isArray(next.received)
        ? next.received.length
        : 0;
  const reference = str(next.reference) ?? key.slice(key.indexOf('#', 'request#'.length) + 1);
  const detail: BackfillDetail = {
    id: stableId('backfill', String(next.user_id), reference, status),
    user_id: String(next.user_id),
    reference_id: str(next.reference_id) ?? null,
    reference,
    // Named by a data payload or by the backfill's own request: one of Terra's data types.
    type: (str(next.data_type) as BackfillDetail['type'] | undefined) ?? 'unknown',
    status,
    expected: typeof next.expected === 'number' ? next.expected : null,
    received,
    from: str(next.from) ?? null,
    to: str(next.to) ?? null,
  };
  const reason = str(next.reason);
  if (reason !== undefined) detail.reason = reason;
  return [{ kind: 'backfill', detail }];
}

function deliveryChange(change: ItemChange): OutboxAction[] {
  const next = change.new;
  if (!next) return [];
  const id = String(next.event_id ?? '');
  if (id.startsWith('request#')) return requestChange(change);
  if (id.startsWith('deletion#')) {
    return next.status === 'done' && change.old?.status !== 'done'
      ? [{ kind: 'user_deleted', job: next }]
      : [];
  }
  // Only the first time a delivery is processed: a replay of a stale one counts, a repeat write does not.
  if (next.status !== 'processed' || change.old?.status === 'processed') return [];
  const actions: OutboxAction[] = [];
  if (next.terra_reference !== undefined && next.user_id !== undefined)
    actions.push({ kind: 'track', delivery: next });
  if (next.data === true && next.user_id !== undefined) actions.push({ kind: 'data', delivery: next });
  return actions;
}

/** What one committed change means to the app. */
export function outboxActions(change: ItemChange): OutboxAction[] {
  if (change.table === 'inbox') return deliveryChange(change);
  return connectionChange(change);
}
