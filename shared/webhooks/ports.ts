import type { ConnectionEvent, ConnectionRecord } from '#shared/connections/model';

/**
 * What the webhook receiver needs from storage, in its own terms; `shared/store/` implements both on
 * DynamoDB and the receiver knows nothing of how (docs/architecture.md, "The webhook pipeline").
 */

/**
 * Where a delivery stands. `received` holds a lease while an attempt works on it; `parked` waits for its
 * Terra user's app user to be known (docs/decisions/0020); the rest are final.
 */
export type DeliveryStatus = 'received' | 'processed' | 'ignored' | 'failed' | 'stale' | 'parked';

/** Everything recorded about one delivery; enough to find, explain and replay it later. */
export interface DeliveryFacts {
  event_id: string;
  type: string;
  /** Where the raw body is archived (and, for `s3_payload`, the downloaded payload next to it). */
  archive_key: string;
  payload_key?: string;
  bytes: number;
  /**
   * Hex SHA-256 of the archived body (`archive_key`), taken when its signature was verified: a replay
   * runs only bytes that match it, so an archive edited or swapped on disk cannot forge a delivery.
   */
  body_sha256?: string;
  /**
   * Hex SHA-256 of the downloaded `s3_payload` archived at `payload_key`, taken as it was downloaded: a
   * replay uses an archived payload only when it matches, so a file planted or edited on disk is ignored.
   */
  payload_sha256?: string;
  /** Receive time, epoch ms. */
  received_at: number;
  /** Ordering time, epoch ms (`x-terra-ordering-timestamp`, else the signature time). */
  at: number;
  /** The signature's `t`, unix seconds. */
  signed_at: number;
  user_id?: string;
  reference_id?: string;
  provider?: string;
  /** Terra's `terra-reference` header: which data request this payload answers (never a dedupe key). */
  terra_reference?: string;
  /** `large_request_sending`: how many payloads the request will deliver. */
  expected_payloads?: number;
  /** A data payload: the app is told about it (`terra.data`). */
  data?: boolean;
  /** Parked: its Terra user had no owner when it arrived (archived under `unattributed/`). */
  parked?: boolean;
  /** Set when the operations CLI replayed this delivery from the archive. */
  replayed_at?: string;
}

export type Claim =
  | { kind: 'claimed'; token: string }
  | { kind: 'done'; status: DeliveryStatus }
  | { kind: 'in_progress' };

export interface DeliveryLedger {
  status(event_id: string): Promise<DeliveryStatus | undefined>;
  /** Takes the delivery under a lease, unless it is final already or another attempt holds it. */
  claim(facts: DeliveryFacts): Promise<Claim>;
  /** Applies the events and closes the claimed delivery in one atomic write. */
  applyAndClose(
    facts: DeliveryFacts,
    token: string,
    events: readonly ConnectionEvent[],
  ): Promise<'applied' | 'lease_lost'>;
  /** Gives the lease back after a failed attempt so Terra's retry need not wait for it to run out. */
  release(event_id: string, token: string): Promise<void>;
  /** Records a final delivery that needs no lease; `duplicate` when it was recorded before. */
  record(
    facts: DeliveryFacts,
    status: 'processed' | 'ignored',
    outcome: string,
  ): Promise<'recorded' | 'duplicate'>;
  /**
   * A delivery that can never be applied (malformed under a valid signature, a payload we cannot fetch);
   * `duplicate` when a copy of it already got further (processed, ignored, or in flight under a lease).
   */
  recordFailed(facts: DeliveryFacts, outcome: string): Promise<'recorded' | 'duplicate'>;
  /**
   * Keeps a delivery for a Terra user nobody owns yet, with the events it will apply once the owner is
   * known. `attributed` when an owner (or a tombstone) appeared meanwhile: the caller applies it instead.
   */
  park(
    facts: DeliveryFacts,
    events: readonly ConnectionEvent[],
    unowned: readonly string[],
  ): Promise<'parked' | 'duplicate' | 'attributed'>;
  /** A validly signed delivery whose signature time is outside the window: kept, never applied. */
  recordStale(facts: DeliveryFacts): Promise<'recorded' | 'duplicate'>;
  /** The app user is being or was deleted: deliveries naming only it are not kept. */
  referenceDeleted(reference_id: string): Promise<boolean>;
  /** The app user holds a live claim on SDK connections (`POST /sdk-token`). */
  sdkClaimed(reference_id: string): Promise<boolean>;
}

/** Who owns a Terra user: an app user, nobody yet, or nobody any more (deleted). */
export type Owner =
  | { state: 'missing' }
  | { state: 'deleted'; deleted_at: string }
  | { state: 'owned'; reference_id: string };

/** The connection side of a delivery. */
export interface DeliveryConnections {
  /** The owner of each of these Terra users (deleted ones are acknowledged and dropped). */
  owners(user_ids: readonly string[]): Promise<Map<string, Owner>>;
  /** Which of these Terra users were deleted. */
  deleted(user_ids: readonly string[]): Promise<Set<string>>;
  /**
   * A data event's effect in one write on the record under `reference_id` (the one the delivery names);
   * `missing` when the user has no record.
   */
  touch(
    user_id: string,
    iso: string,
    reference_id?: string | null,
  ): Promise<
    { state: 'touched' | 'unchanged'; record: ConnectionRecord } | { state: 'deleted' } | { state: 'missing' }
  >;
  /** Applies events with no delivery to close (a data event for a user with no record yet). */
  apply(events: readonly ConnectionEvent[]): Promise<Array<ConnectionRecord | undefined>>;
}
