/** The connection record and the events that move it. Field names follow Terra's spelling. */

export const CONNECTION_STATUSES = [
  'pending',
  'active',
  'error',
  'revoked',
  'failed',
  'disconnected',
  'replaced',
] as const;
export type ConnectionStatus = (typeof CONNECTION_STATUSES)[number];

/** Terra has deleted the user_id behind these: nothing that arrives later revives the record. */
export const TERMINAL_STATUSES: ReadonlySet<ConnectionStatus> = new Set([
  'failed',
  'disconnected',
  'replaced',
]);

/** Partition value for Terra users that carry no reference_id (connected outside this backend). */
export const NO_REFERENCE = '#unreferenced';

/** What one delivery says about one Terra user. A `user_reauth` yields two of these. */
export type Change =
  | { kind: 'pending' }
  | { kind: 'authenticated'; scopes?: string[]; replaces?: string }
  | { kind: 'auth_failed'; reason: string }
  | { kind: 'replaced'; replaced_by: string }
  | { kind: 'disconnected' }
  | { kind: 'revoked' }
  | { kind: 'connection_error'; reason?: string }
  | { kind: 'scopes_changed'; scopes?: string[]; added: string[]; removed: string[] }
  | { kind: 'data' };

export interface ConnectionEvent {
  user_id: string;
  /** From the payload (top level or `user`); null when Terra has none for this user. */
  reference_id: string | null;
  provider?: string;
  /** Dedupe id of the delivery; also the last tie-breaker between events at the same instant. */
  event_id: string;
  /** Ordering time in epoch ms: `x-terra-ordering-timestamp`, else the signature timestamp. */
  at: number;
  change: Change;
}

/** The public shape, as `GET /connections` returns it. */
export interface Connection {
  user_id: string;
  provider: string;
  status: ConnectionStatus;
  scopes: string[];
  created_at: string;
  updated_at: string;
  reason?: string;
  replaced_by?: string;
  replaces?: string;
  last_webhook_update?: string;
}

/**
 * A stamp orders events totally: time, then a fixed rank per kind, then event id. Stamps are strings
 * that sort like that order, so the store can keep them as plain attributes.
 */
export type Stamp = string;

/** What the store keeps: the public fields plus the registers that make merging order-independent. */
export interface ConnectionRecord extends Connection {
  reference_id: string;
  clock: {
    /** Stamp of the event that set `status` (and `reason`, `replaced_by`). Absent: no status event yet. */
    status?: Stamp;
    provider?: Stamp;
    /** Stamp of the last full scope set (`scopes_base`). */
    scopes?: Stamp;
    replaces?: Stamp;
  };
  scopes_base: string[];
  /** permission_change deltas newer than the last full set: scope → stamp and whether it is granted. */
  scope_changes: Record<string, { stamp: Stamp; present: boolean }>;
  last_event_id: string;
}

export function toConnection(record: ConnectionRecord): Connection {
  const connection: Connection = {
    user_id: record.user_id,
    provider: record.provider,
    status: record.status,
    scopes: record.scopes,
    created_at: record.created_at,
    updated_at: record.updated_at,
  };
  if (record.reason !== undefined) connection.reason = record.reason;
  if (record.replaced_by !== undefined) connection.replaced_by = record.replaced_by;
  if (record.replaces !== undefined) connection.replaces = record.replaces;
  if (record.last_webhook_update !== undefined) connection.last_webhook_update = record.last_webhook_update;
  return connection;
}
