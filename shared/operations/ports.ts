import type { ConnectionRecord } from '#shared/connections/model';
import type { DeliveryFacts, DeliveryStatus } from '#shared/webhooks/ports';

/**
 * What the operations (the `npm run ops` CLI's commands) need from storage, in their own terms;
 * `shared/store/operations.ts` implements the reads on DynamoDB. Every method here only reads.
 */

/** A delivery as the operations see it: its facts and where it stands (never its lease token). */
export interface DeliveryRecord extends Omit<DeliveryFacts, 'received_at'> {
  status: DeliveryStatus;
  /** ISO-8601. */
  received_at: string;
  attempts: number;
  outcome?: string;
  replayed_at?: string;
  /** While an attempt holds the delivery: until when (epoch ms). */
  lease_until?: number;
  /** When DynamoDB's TTL removes the record (epoch s). */
  expires_at?: number;
}

/** The statuses the sparse `byAttention` index holds: every delivery that is not plainly processed. */
export const ATTENTION_STATUSES = ['failed', 'stale', 'received', 'ignored', 'parked'] as const;
export type AttentionStatus = (typeof ATTENTION_STATUSES)[number];

/** A Terra user's record as it stands: live, a tombstone (deleted), or none at all. */
export type ConnectionState =
  | { state: 'live'; record: ConnectionRecord }
  | { state: 'deleted'; deleted_at: string }
  | { state: 'missing' };

/** Called as a long read goes on: how far it is, and how far it goes when that is known. */
export type OnProgress = (done: number, total?: number) => void;

export interface DeliveryScan {
  /** Received at or after (ISO-8601). */
  since?: string;
  type?: string;
  status?: DeliveryStatus;
  user_id?: string;
}

export interface OperationsReader {
  /** Deliveries with this status, through the sparse attention index, received since `since` (ISO). */
  deliveriesByStatus(
    status: AttentionStatus,
    since?: string,
    onProgress?: OnProgress,
  ): Promise<DeliveryRecord[]>;
  /** These deliveries, those that exist (read consistently). */
  deliveries(event_ids: readonly string[], onProgress?: OnProgress): Promise<DeliveryRecord[]>;
  /** Every delivery matching the filter: a scan of the inbox table (reserved items left out). */
  scanDeliveries(filter: DeliveryScan, onProgress?: OnProgress): Promise<DeliveryRecord[]>;
  /** The record of each Terra user: live, a tombstone, or missing. */
  connectionStates(user_ids: readonly string[]): Promise<Map<string, ConnectionState>>;
  /** The Terra users whose records name this app user (the byReference index; tombstones name nobody). */
  userIdsByReference(reference_id: string): Promise<string[]>;
}

/** The raw-body archive, read-only, plus the size of an object without reading it. */
export interface ArchiveReader {
  list(prefix: string): Promise<string[]>;
  get(key: string): Promise<Buffer | undefined>;
  /** Bytes stored under the key; undefined when there is no such object. */
  size(key: string): Promise<number | undefined>;
}

/** Lambda's record of a stream batch its function failed on (`DDBStreamBatchInfo` in the dead letters). */
export interface StreamBatch {
  streamArn: string;
  shardId: string;
  startSequenceNumber: string;
  endSequenceNumber: string;
}
