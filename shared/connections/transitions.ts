import {
  type Change,
  type ConnectionEvent,
  type ConnectionRecord,
  type ConnectionStatus,
  NO_REFERENCE,
  type Stamp,
  TERMINAL_STATUSES,
} from './model.ts';

/**
 * The connection state machine: pure, no clock, no I/O. Terra delivers at least once and in any order,
 * so every field is a register merged by a total order of events, and the result of any permutation of
 * the same deliveries, with any duplicates, is the same record:
 * - status: terminal states absorb (Terra deleted that user_id); among terminal events the earliest wins,
 *   among the others the latest wins, and `pending` (our own mark) yields to any status from Terra;
 * - scopes: the latest full set, then the permission_change deltas newer than it, per scope;
 * - provider and `replaces`: the latest event that carries them;
 * - created_at / updated_at / last_webhook_update: min / max of event times.
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

const UNKNOWN_PROVIDER = 'UNKNOWN';

export function stampOf(event: ConnectionEvent): Stamp {
  const time = Math.max(0, Math.trunc(event.at)).toString().padStart(15, '0');
  return `${time}.${RANK[event.change.kind]}.${event.event_id}`;
}

export function isTerminal(status: ConnectionStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

/** A full scope set when Terra sent one (`user.scopes`), undefined when it sent none. */
export function scopesIfGiven(raw: string | null | undefined): string[] | undefined {
  return raw === null || raw === undefined ? undefined : parseScopes(raw);
}

/** Parses Terra's comma-separated scope strings, tolerating null, blanks and padding. */
export function parseScopes(raw: string | null | undefined): string[] {
  if (!raw) return [];
  return [...new Set(raw.split(',').map((scope) => scope.trim()))].filter(Boolean).sort();
}

function emptyRecord(event: ConnectionEvent, iso: string): ConnectionRecord {
  return {
    reference_id: event.reference_id ?? NO_REFERENCE,
    user_id: event.user_id,
    provider: UNKNOWN_PROVIDER,
    // Before any status event the user is one Terra delivers for, so it is connected.
    status: 'active',
    scopes: [],
    created_at: iso,
    updated_at: iso,
    clock: {},
    scopes_base: [],
    scope_changes: {},
    last_event_id: event.event_id,
  };
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

/** (record, event) → the record after the event. The event carries its own ordering time (`at`). */
export function applyEvent(current: ConnectionRecord | undefined, event: ConnectionEvent): ConnectionRecord {
  const iso = new Date(event.at).toISOString();
  const stamp = stampOf(event);
  const record: ConnectionRecord = current ? structuredClone(current) : emptyRecord(event, iso);
  const { change } = event;

  applyStatus(record, change, stamp);
  applyScopes(record, change, stamp);

  if (
    event.provider !== undefined &&
    (record.clock.provider === undefined || stamp > record.clock.provider)
  ) {
    record.provider = event.provider;
    record.clock.provider = stamp;
  }
  if (
    change.kind === 'authenticated' &&
    change.replaces !== undefined &&
    (record.clock.replaces === undefined || stamp > record.clock.replaces)
  ) {
    record.replaces = change.replaces;
    record.clock.replaces = stamp;
  }
  if (
    change.kind === 'data' &&
    (record.last_webhook_update === undefined || iso > record.last_webhook_update)
  ) {
    record.last_webhook_update = iso;
  }
  if (iso < record.created_at) record.created_at = iso;
  if (iso > record.updated_at) record.updated_at = iso;
  record.last_event_id = event.event_id;
  return record;
}

/** True when applying the event would change nothing a reader can see or the merge depends on. */
export function sameRecord(a: ConnectionRecord | undefined, b: ConnectionRecord): boolean {
  if (a === undefined) return false;
  const { last_event_id: _a, ...restA } = a;
  const { last_event_id: _b, ...restB } = b;
  return JSON.stringify(restA) === JSON.stringify(restB);
}
