import { createHash } from 'node:crypto';
import type { DeletionStorePort } from '#shared/privacy/deletion';
import type { Archive } from '#shared/webhooks/archive';
import type { DeliveryStatus } from '#shared/webhooks/ports';
import { type DeliveryOutcome, receiveWebhook, type WebhookDeps } from '#shared/webhooks/receive';
import type { ArchiveReader, DeliveryRecord, OnProgress, OperationsReader } from './ports.ts';

/**
 * `ops replay`: an archived delivery runs through the receiver again, exactly as Terra's own retry
 * would, except that its signature is not checked again (it was when it was archived; a stale one was
 * authentic, only late) and its signature time is the recorded one. What stands in for the signature is
 * the body's SHA-256 the record kept when the signature was verified: bytes read back from the archive
 * that do not match it (edited or swapped on disk) are never run. Idempotent like every delivery: a
 * processed or ignored one is answered `duplicate` without being run at all, so nothing changes, not
 * even the archive.
 */
export type ReplayOutcome = DeliveryOutcome | 'not_found' | 'archive_missing' | 'body_mismatch';

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
  archive: Pick<ArchiveReader, 'get'> & Pick<Archive, 'delete'>;
  /** The receiver's own wiring: the stores, the archive, payload downloads; no signing secret. */
  receiver: WebhookDeps;
  /** Deletes delivery records, as a deletion's sweep does. */
  deliveries: Pick<DeletionStorePort, 'deleteDeliveries'>;
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

/** Why archived bytes may not be replayed: they differ from the verified ones, or nothing says which those were. */
export type BodyProblem = 'mismatch' | 'unverifiable';

/**
 * Whether these bytes are the ones whose signature was verified: the record's `body_sha256`, else a
 * body-hash id (which is that hash). A record with neither (written before hashes were kept) proves
 * nothing, and is refused like a mismatch.
 */
export function bodyProblem(delivery: DeliveryRecord, body: Uint8Array): BodyProblem | undefined {
  const expected =
    delivery.body_sha256 ??
    (delivery.event_id.startsWith('sha256:') ? delivery.event_id.slice('sha256:'.length) : undefined);
  if (expected === undefined) return 'unverifiable';
  return createHash('sha256').update(body).digest('hex') === expected ? undefined : 'mismatch';
}

export interface RefusedBody {
  event_id: string;
  archive_key: string;
  problem: BodyProblem;
}

/** A replay refused before anything ran: some archived bodies are not the bytes Terra signed. */
export class ArchiveNotAuthentic extends Error {
  override name = 'ArchiveNotAuthentic';
  constructor(readonly refused: readonly RefusedBody[]) {
    super(
      `the archived bytes of ${refused.map((body) => `${body.event_id} (${body.archive_key}: ${body.problem === 'mismatch' ? 'does not match the SHA-256 recorded when its signature was verified' : 'recorded without a body hash, cannot be verified'})`).join(', ')}`,
    );
  }
}

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
  // Checked again on the bytes that run: the file may have changed since the check before the run.
  if (bodyProblem(delivery, body) !== undefined) {
    return { ...base, outcome: 'body_mismatch', status: delivery.status };
  }
  // An s3_payload's URL has expired by now; the payload an earlier attempt downloaded stands in for it,
  // but only the bytes it recorded the hash of: a file planted or edited on disk is not a download.
  const archived = delivery.payload_key ? await deps.archive.get(delivery.payload_key) : undefined;
  const payload =
    archived !== undefined &&
    delivery.payload_sha256 !== undefined &&
    createHash('sha256').update(archived).digest('hex') === delivery.payload_sha256
      ? archived
      : undefined;
  const result = await receiveWebhook(deps.receiver, {
    headers: replayHeaders(delivery),
    body,
    replay: { signed_at: delivery.signed_at, ...(payload ? { payload } : {}) },
  });
  const recorded = result.event_id ?? delivery.event_id;
  if (result.outcome === 'deleted_user') await forget(deps, delivery);
  const [after] = await deps.reader.deliveries([recorded]);
  return {
    ...base,
    outcome: result.outcome,
    http_status: result.status,
    ...(after ? { status: after.status, replayed_at: after.replayed_at ?? null } : {}),
    ...(recorded === delivery.event_id ? {} : { recorded_as: recorded }),
  };
}

/**
 * A delivery the receiver found to be a deleted person's answers `deleted_user` and writes nothing, so
 * its record would stay `stale` (or `failed`) for ops to list until its TTL, and its body in the archive.
 * One the deletion could not find, such as an `s3_payload` notification (it names nobody: quarantined
 * under `_unattributed`, only its download says whose it is), is taken away here as the sweep would
 * have: the record first, then the bytes. A later copy from Terra is dropped as the person's anyway.
 */
async function forget(deps: ReplayDeps, delivery: DeliveryRecord): Promise<void> {
  await deps.deliveries.deleteDeliveries([delivery.event_id]);
  await deps.archive.delete([delivery.archive_key, ...(delivery.payload_key ? [delivery.payload_key] : [])]);
}

/** The replayable deliveries whose archived bytes are not the verified ones; read one at a time. */
async function refusedBodies(deps: ReplayDeps, deliveries: readonly DeliveryRecord[]) {
  const refused: RefusedBody[] = [];
  for (const delivery of deliveries) {
    if (FINAL.has(delivery.status) || !delivery.archive_key) continue;
    const body = await deps.archive.get(delivery.archive_key);
    const problem = body === undefined ? undefined : bodyProblem(delivery, body);
    if (problem) refused.push({ event_id: delivery.event_id, archive_key: delivery.archive_key, problem });
  }
  return refused;
}

/**
 * Replays the deliveries in the order Terra meant them (ordering time), one at a time. Every archived
 * body is checked first: when any is not what was verified, nothing is replayed (`ArchiveNotAuthentic`),
 * since an archive someone has written to should be looked at before anything of it is applied.
 */
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
  const refused = await refusedBodies(deps, ordered);
  if (refused.length > 0) throw new ArchiveNotAuthentic(refused);
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
