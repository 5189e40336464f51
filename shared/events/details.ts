import type { ConnectionStatus } from '#shared/connections/model';

/**
 * The details of the events the app hears (docs/architecture.md, "Events for the app"), as plain types
 * with no Node code: the publisher builds them, the consumer helper reads them, and the demo page (browser
 * code) shows them from this one definition.
 */
export interface ArchivePointer {
  /** The S3 bucket (locally: the archive directory). */
  bucket: string;
  key: string;
}

export interface DataDetail {
  id: string;
  /** The delivery's id (x-terra-trace-id, or the body's hash). */
  event_id: string;
  /** Terra's data type: activity, sleep, daily, body, … */
  type: string;
  /** The app user; null when no delivery or record has named one yet. */
  reference_id: string | null;
  user_id: string;
  provider: string | null;
  received_at: string;
  /** The payload as Terra sent it (for an `s3_payload`, the downloaded payload): the claim check. */
  archive: ArchivePointer;
  bytes: number;
  /** Which data request the payload answers (Terra's `terra-reference`), when it answers one. */
  terra_reference?: string;
  /** True when the payload answers this backend's own history request on connect. */
  backfill: boolean;
  /**
   * The payload itself, when the whole event fits EventBridge's 256 KB; as it arrives, unchecked: read
   * it through the consumer helper's `payloadOf`, which checks it is a `TerraDataPayload`.
   */
  data?: unknown;
}

/**
 * The body of a Terra data webhook (activity, sleep, daily, body, …) as Terra sent it, which is what a
 * `terra.data` event carries or points at. Only what every data type shares is typed; the records under
 * `data` follow Terra's data models for `type` (https://docs.tryterra.co/reference/data-models).
 */
export interface TerraDataPayload {
  type: string;
  user: {
    user_id: string;
    provider?: string;
    reference_id?: string | null;
    scopes?: string | null;
    [field: string]: unknown;
  };
  /** For most types an array of Terra's records; shapes per type in Terra's data models. */
  data?: unknown;
  version?: string;
  [field: string]: unknown;
}

export interface ConnectionDetail {
  id: string;
  user_id: string;
  reference_id: string | null;
  provider: string | null;
  status: ConnectionStatus;
  previous_status: ConnectionStatus | null;
  reason?: string;
  replaced_by?: string;
  replaces?: string;
  /** When the change happened (the ordering time of the event that made it). */
  at: string;
}

export interface BackfillDetail {
  id: string;
  user_id: string;
  reference_id: string | null;
  /** Terra's request reference. */
  reference: string;
  type: string;
  status: 'complete' | 'failed';
  expected: number | null;
  received: number;
  from: string | null;
  to: string | null;
  reason?: string;
}

export interface UserDeletedDetail {
  id: string;
  reference_id: string;
  deletion_id: string;
  user_ids: string[];
  deleted_at: string;
}

/** An event as EventBridge delivers it to a rule's target (Lambda, SQS, an API destination). */
export interface Envelope<Type extends string, Detail> {
  version: '0';
  /** EventBridge's own id: new for every publication; deduplicate on `detail.id` instead. */
  id: string;
  'detail-type': Type;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: Detail;
}

export type DataEnvelope = Envelope<'terra.data', DataDetail>;

/** The events the backend publishes. A newer backend may add types: handle the rest generically. */
export type EventEnvelope =
  | DataEnvelope
  | Envelope<'terra.connection', ConnectionDetail>
  | Envelope<'terra.backfill', BackfillDetail>
  | Envelope<'terra.user_deleted', UserDeletedDetail>;
