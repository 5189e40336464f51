import {
  type Change,
  type ConnectionEvent,
  type ConnectionRecord,
  type ConnectionStatus,
  type Stamp,
  TERMINAL_STATUSES,
} from './model.ts';

/**
 * The connection state machine: pure, no clock, no I/O. Terra delivers at least once and in any order,
 * so every field is a register merged by a total order of events, and the result of any permutation of
 * the same deliveries, with any duplicates, is the same record (docs/architecture.md, "The state
 * machine"):
 * - status: terminal states absorb (Terra deleted that user_id); among terminal events the earliest wins,
 *   among the others the latest wins, and `pending` (our own mark) yields to any status from Terra;
 * - scopes: the latest full set, then the permission_change deltas newer than it, per scope;
 * - provider, reference_id and `replaces`: the latest connection event that carries them;
 * - created_at / updated_at: min / max of connection-event times;
 * - last_webhook_update: max of data-event times. A data event touches nothing else, so the store can
 *   apply it as one blind conditional update (docs/decisions/0007-lease-free-data-events.md).
 */

const STATUS_OF: Partial<Record<Change['kind'], ConnectionStatus>> = {
  pending: 'pending',
  authenticated: 'active',
  connection_error: 'error',
  revoked: 'revoked',
  auth_failed: 'failed',
  disconnected: 'disconnected',
  replaced: 'replaced',
};

// Ties at the same instant are broken by kind; the order is arbitrary but fixed.
const RANK: Record<Change['kind'], number> = {
  pending: 0,
  data: 1,
  scopes_changed: 2,
  authenticated: 3,
  connection_error: 4,
  revoked: 5,
  auth_failed: 6,
  replaced: 7,
  disconnected: 8,
};

export function stampOf(event: ConnectionEvent): Stamp {
  const time = Math.max(0, Math.trunc(event.at)).toString().padStart(15, '0');
  return `${time}.${RANK[event.change.kind]}.${event.event_id}`;
}

export function isTerminal(status: ConnectionStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

/** The record a Terra user has before any event: connected, since Terra delivers for it. */
export function emptyRecord(user_id: string): ConnectionRecord {
  return { user_id, status: 'active', scopes: [], clock: {}, scopes_base: [], scope_changes: {} };
}

/**
 * Status precedence: terminal (earliest wins) over live (latest wins) over pending (latest wins).
 * `pending` is stamped with our clock when a login starts, Terra's events with Terra's: a pending mark
 * must never hide what Terra reported, whatever the two clocks say.
 */
function statusClass(status: ConnectionStatus): number {
  if (isTerminal(status)) return 2;
  return status === 'pending' ? 0 : 1;
}

function statusWins(record: ConnectionRecord, status: ConnectionStatus, stamp: Stamp): boolean {
  const current = record.clock.status;
  if (current === undefined) return true;
  const incoming = statusClass(status);
  const existing = statusClass(record.status);
  if (incoming !== existing) return incoming > existing;
  return incoming === 2 ? stamp < current : stamp > current;
}

function applyStatus(record: ConnectionRecord, change: Change, stamp: Stamp): void {
  const status = STATUS_OF[change.kind];
  if (status === undefined || !statusWins(record, status, stamp)) return;
  record.status = status;
  record.clock.status = stamp;
  delete record.reason;
  delete record.replaced_by;
  if (change.kind === 'auth_failed') record.reason = change.reason;
  if (change.kind === 'connection_error' && change.reason !== undefined) record.reason = change.reason;
  if (change.kind === 'replaced') record.replaced_by = change.replaced_by;
}

function applyScopes(record: ConnectionRecord, change: Change, stamp: Stamp): void {
  const full =
    change.kind === 'authenticated' || change.kind === 'scopes_changed' ? change.scopes : undefined;
  if (full !== undefined && (record.clock.scopes === undefined || stamp > record.clock.scopes)) {
    record.scopes_base = [...full];
    record.clock.scopes = stamp;
    record.scope_changes = Object.fromEntries(
      Object.entries(record.scope_changes).filter(([, entry]) => entry.stamp > stamp),
    );
  } else if (change.kind === 'scopes_changed' && full === undefined) {
    const delta = new Map<string, boolean>();
    for (const scope of change.added) delta.set(scope, true);
    for (const scope of change.removed) delta.set(scope, false);
    for (const [scope, present] of delta) {
      const existing = record.scope_changes[scope];
      const newerThanBase = record.clock.scopes === undefined || stamp > record.clock.scopes;
      if (newerThanBase && (existing === undefined || stamp > existing.stamp)) {
        record.scope_changes = { ...record.scope_changes, [scope]: { stamp, present } };
      }
    }
  }
  const scopes = new Set(record.scopes_base);
  for (const [scope, entry] of Object.entries(record.scope_changes)) {
    if (entry.present) scopes.add(scope);
    else scopes.delete(scope);
  }
  record.scopes = [...scopes].sort();
}

/** A last-writer-wins register: `value` replaces the current one when its stamp is newer. */
function applyRegister(
  record: ConnectionRecord,
  field: 'provider' | 'reference_id' | 'replaces',
  clock: 'provider' | 'reference' | 'replaces',
  value: string | null | undefined,
  stamp: Stamp,
): void {
  if (value === null || value === undefined) return;
  const current = record.clock[clock];
  if (current !== undefined && stamp <= current) return;
  record[field] = value;
  record.clock[clock] = stamp;
}

/** (record, event) → the record after the event. The event carries its own ordering time (`at`). */
export function applyEvent(current: ConnectionRecord | undefined, event: ConnectionEvent): ConnectionRecord {
  const iso = new Date(event.at).toISOString();
  const record: ConnectionRecord = current ? structuredClone(current) : emptyRecord(event.user_id);
  const { change } = event;

  if (change.kind === 'data') {
    if (record.last_webhook_update === undefined || iso > record.last_webhook_update) {
      record.last_webhook_update = iso;
    }
    return record;
  }

  const stamp = stampOf(event);
  applyStatus(record, change, stamp);
  applyScopes(record, change, stamp);
  applyRegister(record, 'provider', 'provider', event.provider, stamp);
  applyRegister(record, 'reference_id', 'reference', event.reference_id, stamp);
  if (change.kind === 'authenticated') applyRegister(record, 'replaces', 'replaces', change.replaces, stamp);
  if (record.created_at === undefined || iso < record.created_at) record.created_at = iso;
  if (record.updated_at === undefined || iso > record.updated_at) record.updated_at = iso;
  return record;
}

/** True when two records are the same to a reader and to the merge (nothing to write). */
export function sameRecord(a: ConnectionRecord | undefined, b: ConnectionRecord): boolean {
  return a !== undefined && JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, inner]) => inner !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, inner]) => [key, canonical(inner)]),
  );
}
