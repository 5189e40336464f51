/**
 * What the app receives, as local mode shows it (local only, no credentials): every event the backend
 * published to its bus, in EventBridge's envelope. In AWS your app gets these from an EventBridge rule
 * on source `terra-connect`, never by polling; here the local server keeps the last 500 in a feed.
 *
 * The details are the backend's own (`shared/events/details.ts`, plain types). A consumer deduplicates on
 * `detail.id`; the envelope's own id is new for every publication in AWS.
 */

import type { EventEnvelope } from '#shared/events/details';

export type {
  ArchivePointer,
  BackfillDetail,
  ConnectionDetail,
  DataDetail,
  DataEnvelope,
  EventEnvelope,
  UserDeletedDetail,
} from '#shared/events/details';

export interface FeedEntry {
  /** The feed's own position (local mode only): ask for what is `after` the last one seen. */
  seq: number;
  envelope: EventEnvelope;
}

/** The feed, oldest first: everything kept, or only what is newer than `after`. */
export async function eventsAfter(after: number): Promise<FeedEntry[]> {
  const response = await fetch(`/dev/events?after=${encodeURIComponent(String(after))}`);
  if (!response.ok) throw new Error(`the event feed answered ${response.status}`);
  return ((await response.json()) as { events: FeedEntry[] }).events;
}

/** Where the archived payload behind a `terra.data` event is served locally (its claim check). */
export const payloadUrl = (key: string) => `/dev/events/payload?key=${encodeURIComponent(key)}`;

/**
 * The payload behind a `terra.data` event that was too large to carry inline, as the archive holds it
 * (S3 in AWS: `GetObject` on `detail.archive`). Answers the raw text; it is JSON as Terra sent it.
 */
export async function archivedPayload(key: string): Promise<string> {
  const response = await fetch(payloadUrl(key));
  if (response.status === 404) throw new Error('the archive no longer has this payload');
  if (!response.ok) throw new Error(`the archive answered ${response.status}`);
  return response.text();
}
