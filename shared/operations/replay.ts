import { payloadKeyFor } from '#shared/webhooks/archive';
import type { DeliveryStatus } from '#shared/webhooks/ports';
import { type DeliveryOutcome, receiveWebhook, type WebhookDeps } from '#shared/webhooks/receive';
import type { ArchiveReader, DeliveryRecord, OnProgress, OperationsReader } from './ports.ts';

/**
 * `ops replay`: an archived delivery runs through the receiver again, exactly as Terra's own retry
 * would, except that its signature is not checked again (it was when it was archived; a stale one was
 * authentic, only late) and its signature time is the recorded one. Idempotent like every delivery: a
 * processed or ignored one is answered `duplicate` without being run at all, so nothing changes, not
 * even the archive.
 */
export type ReplayOutcome = DeliveryOutcome | 'not_found' | 'archive_missing';

export interface ReplayResult {
  event_id: string;
  outcome: ReplayOutcome;
  /** What the receiver answered, when it ran. */
  http_status?: number;
  /** Where the delivery stood before, and after. */
  previous_status?: DeliveryStatus;
  status?: DeliveryStatus;
  replayed_at?: string | null;
  /** The id the receiver recorded, when it differs (a body whose hash no longer matches its id). */
  recorded_as?: string;
}

/** Outcomes after which the delivery is where it should be. */
export const REPLAY_OK: ReadonlySet<ReplayOutcome> = new Set([
  'processed',
  'duplicate',
  'ignored',
  'deleted_user',
]);

export interface ReplayDeps {
  reader: Pick<OperationsReader, 'deliveries'>;
  archive: Pick<ArchiveReader, 'get'>;
  /** The receiver's own wiring: the stores, the archive, payload downloads; no signing secret. */
  receiver: WebhookDeps;
}

/** The replay's signature check never runs; if it ever did, it finds no secret and fails closed. */
export class NoSigningSecret extends Error {
  override name = 'NoSigningSecret';
  constructor() {
    super('a replay verifies no signature, so it is given no signing secret');
  }
}

export const noSigningSecrets = async (): Promise<readonly string[]> => {
  throw new NoSigningSecret();
};

/** The headers Terra sent, as far as the record keeps them (the signature is not replayed). */
export function replayHeaders(delivery: DeliveryRecord): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-terra-ordering-timestamp': String(delivery.at),
  };
  // A `sha256:` id is the body's own hash: the receiver derives it again from the same bytes.
  if (!delivery.event_id.startsWith('sha256:')) headers['x-terra-trace-id'] = delivery.event_id;
  if (delivery.terra_reference) headers['terra-reference'] = delivery.terra_reference;
  return headers;
}

const FINAL: ReadonlySet<DeliveryStatus> = new Set(['processed', 'ignored']);

async function replayOne(deps: ReplayDeps, delivery: DeliveryRecord): Promise<ReplayResult> {
  const base = { event_id: delivery.event_id, previous_status: delivery.status };
  if (FINAL.has(delivery.status)) {
    return {
      ...base,
      outcome: 'duplicate',
      status: delivery.status,
      replayed_at: delivery.replayed_at ?? null,
    };
  }
  const body = delivery.archive_key ? await deps.archive.get(delivery.archive_key) : undefined;
  if (body === undefined) return { ...base, outcome: 'archive_missing', status: delivery.status };
  // An s3_payload's URL has expired by now; a payload an earlier attempt archived stands in for it.
  const payloadKey = delivery.payload_key ?? payloadKeyFor(delivery.archive_key);
  const payload = await deps.archive.get(payloadKey);
  const result = await receiveWebhook(deps.receiver, {
    headers: replayHeaders(delivery),
    body,
    replay: { signed_at: delivery.signed_at, ...(payload ? { payload } : {}) },
  });
  const recorded = result.event_id ?? delivery.event_id;
  const [after] = await deps.reader.deliveries([recorded]);
  return {
    ...base,
    outcome: result.outcome,
    http_status: result.status,
    ...(after ? { status: after.status, replayed_at: after.replayed_at ?? null } : {}),
    ...(recorded === delivery.event_id ? {} : { recorded_as: recorded }),
  };
}

/** Replays the deliveries in the order Terra meant them (ordering time), one at a time. */
export async function replayDeliveries(
  deps: ReplayDeps,
  event_ids: readonly string[],
  onProgress?: OnProgress,
): Promise<ReplayResult[]> {
  const found = new Map(
    (await deps.reader.deliveries(event_ids)).map((delivery) => [delivery.event_id, delivery]),
  );
  const unique = [...new Set(event_ids)];
  const ordered = unique
    .map((event_id) => found.get(event_id))
    .filter((delivery): delivery is DeliveryRecord => delivery !== undefined)
    .sort((a, b) => a.at - b.at || a.event_id.localeCompare(b.event_id));
  const results = new Map<string, ReplayResult>();
  for (const event_id of unique)
    if (!found.has(event_id)) results.set(event_id, { event_id, outcome: 'not_found' });
  let done = results.size;
  onProgress?.(done, unique.length);
  for (const delivery of ordered) {
    results.set(delivery.event_id, await replayOne(deps, delivery));
    onProgress?.(++done, unique.length);
  }
  return unique.map((event_id) => results.get(event_id) ?? { event_id, outcome: 'not_found' });
}
