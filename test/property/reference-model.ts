import type { Change, Connection, ConnectionEvent, ConnectionStatus } from '#shared/connections/model';

/**
 * The connection semantics written the slow, obvious way (docs/architecture.md, "The state machine"): sort the distinct events of one
 * user by (at, rank of kind, event_id) and fold them in that order. Status: the earliest terminal event
 * if any, else the latest status event, except that our own `pending` mark never replaces a status from
 * Terra. Deliberately shares no code with `shared/connections/transitions.ts`, so the property tests compare
 * two independent readings of the spec.
 */

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

const TERMINAL: ReadonlySet<ConnectionStatus> = new Set<ConnectionStatus>([
  'failed',
  'disconnected',
  'replaced',
]);

function statusOf(change: Change): ConnectionStatus | undefined {
  switch (change.kind) {
    case 'pending':
      return 'pending';
    case 'authenticated':
      return 'active';
    case 'connection_error':
      return 'error';
    case 'revoked':
      return 'revoked';
    case 'auth_failed':
      return 'failed';
    case 'disconnected':
      return 'disconnected';
    case 'replaced':
      return 'replaced';
    default:
      return undefined;
  }
}

/** The total order of events: time, then kind, then event id (plain string comparison). */
export function compareEvents(a: ConnectionEvent, b: ConnectionEvent): number {
  if (a.at !== b.at) return a.at - b.at;
  const byRank = RANK[a.change.kind] - RANK[b.change.kind];
  if (byRank !== 0) return byRank;
  if (a.event_id === b.event_id) return 0;
  return a.event_id < b.event_id ? -1 : 1;
}

/** One copy of each event: a redelivery carries the same event_id and the same content. */
function distinct(events: readonly ConnectionEvent[]): ConnectionEvent[] {
  const byId = new Map<string, ConnectionEvent>();
  for (const event of events) {
    const seen = byId.get(event.event_id);
    if (seen === undefined) byId.set(event.event_id, event);
    else if (JSON.stringify(seen) !== JSON.stringify(event)) {
      throw new Error(`reference model: two different events share event_id ${event.event_id}`);
    }
  }
  return [...byId.values()];
}

const iso = (at: number): string => new Date(at).toISOString();

/** The public record of one Terra user after all of `events` (all for that user), or undefined if none. */
export function referenceConnection(events: readonly ConnectionEvent[]): Connection | undefined {
  const ordered = distinct(events).sort(compareEvents);
  const first = ordered[0];
  if (first === undefined) return undefined;
  const userIds = new Set(ordered.map((event) => event.user_id));
  if (userIds.size !== 1) throw new Error(`reference model: events of several users: ${[...userIds]}`);

  let status: ConnectionStatus = 'active';
  let statusSeen = false;
  let reason: string | undefined;
  let replacedBy: string | undefined;
  let scopes = new Set<string>();
  let provider = 'UNKNOWN';
  let replaces: string | undefined;
  let minAt: number | undefined;
  let maxAt: number | undefined;
  let lastData: number | undefined;

  for (const event of ordered) {
    const { change } = event;
    // A data event says only that data arrived: it moves last_webhook_update and nothing else.
    if (change.kind === 'data') {
      lastData = event.at;
      continue;
    }

    const next = statusOf(change);
    // A pending mark is ours, stamped with our clock: it never replaces a status Terra reported.
    const pendingOverTerra = next === 'pending' && statusSeen && status !== 'pending';
    if (next !== undefined && !TERMINAL.has(status) && !pendingOverTerra) {
      status = next;
      statusSeen = true;
      reason = undefined;
      replacedBy = undefined;
      if (change.kind === 'auth_failed') reason = change.reason;
      if (change.kind === 'connection_error') reason = change.reason;
      if (change.kind === 'replaced') replacedBy = change.replaced_by;
    }

    if (
      (change.kind === 'authenticated' || change.kind === 'scopes_changed') &&
      change.scopes !== undefined
    ) {
      scopes = new Set(change.scopes);
    } else if (change.kind === 'scopes_changed') {
      for (const scope of change.added) scopes.add(scope);
      for (const scope of change.removed) scopes.delete(scope);
    }

    if (event.provider !== undefined) provider = event.provider;
    if (change.kind === 'authenticated' && change.replaces !== undefined) replaces = change.replaces;
    minAt = Math.min(minAt ?? event.at, event.at);
    maxAt = Math.max(maxAt ?? event.at, event.at);
  }

  const connection: Connection = {
    user_id: first.user_id,
    provider,
    status,
    scopes: [...scopes].sort(),
    // Only data so far: the data time stands in for both.
    created_at: iso(minAt ?? lastData ?? first.at),
    updated_at: iso(maxAt ?? lastData ?? first.at),
  };
  if (reason !== undefined) connection.reason = reason;
  if (replacedBy !== undefined) connection.replaced_by = replacedBy;
  if (replaces !== undefined) connection.replaces = replaces;
  if (lastData !== undefined) connection.last_webhook_update = iso(lastData);
  return connection;
}

/** The app user a Terra user belongs to: the reference of the latest connection event that names one. */
export function referenceOwner(events: readonly ConnectionEvent[]): string | undefined {
  let owner: string | undefined;
  for (const event of distinct(events).sort(compareEvents)) {
    if (event.change.kind !== 'data' && event.reference_id !== null) owner = event.reference_id;
  }
  return owner;
}
