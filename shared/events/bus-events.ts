import { createHash } from 'node:crypto';
import {
  type BackfillDetail,
  type ConnectionDetail,
  type DataDetail,
  EVENT_SOURCE,
  type UserDeletedDetail,
} from './details.ts';

export type {
  ArchivePointer,
  BackfillDetail,
  ConnectionDetail,
  DataDetail,
  UserDeletedDetail,
} from './details.ts';
/**
 * What the app hears (docs/architecture.md, "Events for the app"): EventBridge events with source
 * `terra-connect`. Every detail carries `id`, stable for the change that caused it (the same delivery
 * or change always yields the same id), so a consumer deduplicates on `detail.id`; EventBridge's own
 * envelope id is new for every publication.
 */
export { EVENT_SOURCE };

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
