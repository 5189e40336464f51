import { eventIdOfKey, userPrefixes } from '#shared/webhooks/archive';
import type { DeliveryStatus } from '#shared/webhooks/ports';
import {
  type ArchiveReader,
  ATTENTION_STATUSES,
  type AttentionStatus,
  type DeliveryRecord,
  type OnProgress,
  type OperationsReader,
} from './ports.ts';

/**
 * Finding deliveries (`ops deliveries`, `ops delivery`): by status through the sparse attention index,
 * by Terra user through the archive's layout (every delivery of a user is archived under its prefixes),
 * otherwise a filtered scan bounded by a receive time. Only facts come out, never a body, unless one
 * delivery's body is asked for.
 */
export interface DeliveryQuery {
  status?: DeliveryStatus;
  type?: string;
  user_id?: string;
  /** Received at or after (epoch ms). */
  since?: number;
  /** At most this many rows, the most recent first. */
  limit: number;
}

/** One line of a delivery list. */
export interface DeliveryRow {
  event_id: string;
  status: DeliveryStatus;
  type: string;
  user_id: string | null;
  received_at: string;
  outcome: string | null;
  replayed_at: string | null;
}

export interface DeliveryList {
  /** How the deliveries were found. */
  by: 'status' | 'user' | 'scan';
  deliveries: DeliveryRow[];
  /** How many matched, before the limit. */
  matched: number;
  truncated: boolean;
}

export interface FindDeps {
  reader: OperationsReader;
  archive: Pick<ArchiveReader, 'list'>;
}

export const isAttentionStatus = (status: string): status is AttentionStatus =>
  (ATTENTION_STATUSES as readonly string[]).includes(status);

export function toRow(delivery: DeliveryRecord): DeliveryRow {
  return {
    event_id: delivery.event_id,
    status: delivery.status,
    type: delivery.type,
    user_id: delivery.user_id ?? null,
    received_at: delivery.received_at,
    outcome: delivery.outcome ?? null,
    replayed_at: delivery.replayed_at ?? null,
  };
}

/** Most recent first; ties by id, so a list reads the same twice. */
export function newestFirst(a: DeliveryRecord, b: DeliveryRecord): number {
  return b.received_at.localeCompare(a.received_at) || a.event_id.localeCompare(b.event_id);
}

/** The delivery ids archived under these prefixes (a downloaded payload shares its notification's id). */
export async function archivedEventIds(archive: Pick<ArchiveReader, 'list'>, prefixes: readonly string[]) {
  const keys = (await Promise.all(prefixes.map((prefix) => archive.list(prefix)))).flat();
  return [...new Set(keys.map(eventIdOfKey).filter((id): id is string => id !== undefined))];
}

/** The delivery records of one Terra user, found through the archive layout. */
export async function deliveriesOfUser(
  deps: FindDeps,
  user_id: string,
  onProgress?: OnProgress,
  extraPrefixes: readonly string[] = [],
): Promise<DeliveryRecord[]> {
  const ids = await archivedEventIds(deps.archive, [...userPrefixes(user_id), ...extraPrefixes]);
  return deps.reader.deliveries(ids, onProgress);
}

export async function findDeliveries(
  deps: FindDeps,
  query: DeliveryQuery,
  onProgress?: OnProgress,
): Promise<DeliveryList> {
  const since = query.since === undefined ? undefined : new Date(query.since).toISOString();
  let by: DeliveryList['by'];
  let found: DeliveryRecord[];
  if (query.status !== undefined && isAttentionStatus(query.status)) {
    by = 'status';
    found = await deps.reader.deliveriesByStatus(query.status, since, onProgress);
  } else if (query.user_id !== undefined) {
    by = 'user';
    found = await deliveriesOfUser(deps, query.user_id, onProgress);
  } else {
    by = 'scan';
    found = await deps.reader.scanDeliveries(
      {
        ...(since === undefined ? {} : { since }),
        ...(query.type === undefined ? {} : { type: query.type }),
        ...(query.status === undefined ? {} : { status: query.status }),
      },
      onProgress,
    );
  }
  const matching = found
    .filter(
      (delivery) =>
        (query.status === undefined || delivery.status === query.status) &&
        (query.type === undefined || delivery.type === query.type) &&
        (query.user_id === undefined || delivery.user_id === query.user_id) &&
        (since === undefined || delivery.received_at >= since),
    )
    .sort(newestFirst);
  return {
    by,
    deliveries: matching.slice(0, query.limit).map(toRow),
    matched: matching.length,
    truncated: matching.length > query.limit,
  };
}

/** Where one delivery's bytes are: its body, a downloaded payload, and any other copy under its id. */
export interface ArchivedObject {
  key: string;
  role: 'body' | 'payload' | 'copy';
  /** Null when the object is gone (expired, or deleted with its user). */
  bytes: number | null;
}

export interface DeliveryDetail {
  delivery: DeliveryRecord;
  archive: ArchivedObject[];
  /** Only when asked for: the raw body as received (UTF-8; base64 when it is not text). */
  body?: { encoding: 'utf8' | 'base64'; text: string };
  payload?: { encoding: 'utf8' | 'base64'; text: string };
}

const dirOf = (key: string) => key.slice(0, key.lastIndexOf('/') + 1);

function decoded(bytes: Buffer): { encoding: 'utf8' | 'base64'; text: string } {
  try {
    return { encoding: 'utf8', text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
  } catch {
    return { encoding: 'base64', text: bytes.toString('base64') };
  }
}

/**
 * One delivery: the record, its archived objects and their sizes (another copy under the same id lives
 * beside it, or in the user's quarantine when a stale copy was replayed since), and the raw body only
 * when `body` is asked for.
 */
export async function deliveryDetail(
  deps: { reader: Pick<OperationsReader, 'deliveries'>; archive: ArchiveReader },
  event_id: string,
  options: { body: boolean },
): Promise<DeliveryDetail | undefined> {
  const [delivery] = await deps.reader.deliveries([event_id]);
  if (delivery === undefined) return undefined;
  const known = new Map<string, ArchivedObject['role']>();
  if (delivery.archive_key) known.set(delivery.archive_key, 'body');
  if (delivery.payload_key) known.set(delivery.payload_key, 'payload');
  const prefixes = new Set([...known.keys()].map(dirOf));
  // A replayed stale copy sits in the user's quarantine (the archive's own layout, encoding included).
  if (delivery.user_id) for (const prefix of userPrefixes(delivery.user_id)) prefixes.add(prefix);
  for (const key of (await Promise.all([...prefixes].map((prefix) => deps.archive.list(prefix)))).flat()) {
    if (!known.has(key) && eventIdOfKey(key) === event_id) known.set(key, 'copy');
  }
  const archive = await Promise.all(
    [...known].map(async ([key, role]) => ({ key, role, bytes: (await deps.archive.size(key)) ?? null })),
  );
  const detail: DeliveryDetail = { delivery, archive };
  if (options.body) {
    const body = delivery.archive_key ? await deps.archive.get(delivery.archive_key) : undefined;
    if (body) detail.body = decoded(body);
    const payload = delivery.payload_key ? await deps.archive.get(delivery.payload_key) : undefined;
    if (payload) detail.payload = decoded(payload);
  }
  return detail;
}
