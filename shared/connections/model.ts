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
  /** From the payload (top level or `user`); null when the delivery does not carry one. */
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

/**
 * What the store keeps, one per Terra `user_id` (the table's key): the public fields plus the registers
 * that make merging order-independent. See docs/architecture.md, "The state machine".
 */
export interface ConnectionRecord {
  user_id: string;
  /** The app user (Terra's reference_id); absent while no delivery has named one. */
  reference_id?: string;
  provider?: string;
  status: ConnectionStatus;
  scopes: string[];
  /** Earliest and latest time of a connection event (data events excluded); absent for data-only users. */
  created_at?: string;
  updated_at?: string;
  reason?: string;
  replaced_by?: string;
  replaces?: string;
  /** Latest data event. */
  last_webhook_update?: string;
  clock: {
    /** Stamp of the event that set `status` (and `reason`, `replaced_by`). Absent: no status event yet. */
    status?: Stamp;
    provider?: Stamp;
    reference?: Stamp;
    /** Stamp of the last full scope set (`scopes_base`). */
    scopes?: Stamp;
    replaces?: Stamp;
  };
  scopes_base: string[];
  /** permission_change deltas newer than the last full set: scope → stamp and whether it is granted. */
  scope_changes: Record<string, { stamp: Stamp; present: boolean }>;
}

export const UNKNOWN_PROVIDER = 'UNKNOWN';

export function toConnection(record: ConnectionRecord): Connection {
  // A user Terra has only sent data for has no connection event yet: its data times stand in.
  const seen = record.last_webhook_update ?? '';
  const connection: Connection = {
    user_id: record.user_id,
    provider: record.provider ?? UNKNOWN_PROVIDER,
    status: record.status,
    scopes: record.scopes,
    created_at: record.created_at ?? seen,
    updated_at: record.updated_at ?? seen,
  };
  if (record.reason !== undefined) connection.reason = record.reason;
  if (record.replaced_by !== undefined) connection.replaced_by = record.replaced_by;
  if (record.replaces !== undefined) connection.replaces = record.replaces;
  if (record.last_webhook_update !== undefined) connection.last_webhook_update = record.last_webhook_update;
  return connection;
}
