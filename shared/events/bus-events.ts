import { createHash } from 'node:crypto';
import type { ConnectionStatus } from '#shared/connections/model';

/**
 * What the app hears (docs/architecture.md, "Events for the app"): EventBridge events with source
 * `terra-connect`. Every detail carries `id`, stable for the change that caused it (the same delivery
 * or change always yields the same id), so a consumer deduplicates on `detail.id`; EventBridge's own
 * envelope id is new for every publication.
 */
export const EVENT_SOURCE = 'terra-connect';

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
  /** The payload itself, when the whole event fits EventBridge's 256 KB. */
  data?: unknown;
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

export type BusEvent =
  | { detailType: 'terra.data'; detail: DataDetail }
  | { detailType: 'terra.connection'; detail: ConnectionDetail }
  | { detailType: 'terra.backfill'; detail: BackfillDetail }
  | { detailType: 'terra.user_deleted'; detail: UserDeletedDetail };

export type DetailType = BusEvent['detailType'];

/** A short stable id from the parts that identify a change. */
export function stableId(kind: string, ...parts: string[]): string {
  return `${kind}:${createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32)}`;
}

/**
 * EventBridge's limit: 256 KB per entry, counting the UTF-8 bytes of source, detail type, detail and
 * resources plus 14 for the time (PutEvents "Calculating PutEvents event entry size").
 */
export const MAX_ENTRY_BYTES = 256 * 1024;

export function entryBytes(event: BusEvent, detail: unknown = event.detail): number {
  return (
    14 +
    Buffer.byteLength(EVENT_SOURCE) +
    Buffer.byteLength(event.detailType) +
    Buffer.byteLength(JSON.stringify(detail))
  );
}

/** What the bus publishes to: EventBridge in AWS, the local feed and EVENT_TARGET_URL locally. */
export interface EventBus {
  /** Publishes the events; answers those that could not be published (to retry or dead-letter). */
  publish(events: readonly BusEvent[]): Promise<BusEvent[]>;
}
