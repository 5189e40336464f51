import * as z from 'zod/mini';
import { CONNECTION_STATUSES } from '#shared/connections/model';
import type { CommittedChange, RecordedDelivery } from '#shared/events/outbox';
import type { DeliveryStatus } from '#shared/webhooks/ports';
import { toRequest } from './backfill.ts';
import type { Item } from './conditions.ts';
import { toRecord } from './connections.ts';
import { toDeletionJob } from './deletions.ts';
import { reservedKind } from './tables.ts';

/**
 * The stream's side of the store: one item's change, as a DynamoDB stream record carries it (images
 * unmarshalled), becomes a change in the domain's terms (shared/events/outbox.ts `CommittedChange`),
 * so that nothing past this file knows a key layout, a DynamoDB set or an attribute name. Each item
 * kind is recognised by its table and key (shared/store/tables.ts) and turned into its domain type by
 * the same function the store's reads use.
 *
 * The attributes the outbox and the publisher read are checked before an item is trusted: an item that
 * is not what the store writes (a hand edit, a half-migrated shape) becomes `unknown`, which publishes
 * nothing and is logged, rather than an event built from `undefined`s or a publisher that throws on the
 * same record until the stream gives up. The rest of an item is taken as the store's reads take it.
 */
export interface StreamImages {
  table: 'connections' | 'inbox';
  old?: Item;
  new?: Item;
}

const text = z.optional(z.string());

// What the outbox reads of a record (shared/connections/model.ts `ConnectionRecord`).
const connectionItem = z.looseObject({
  reference_id: z.string(),
  user_id: z.string(),
  status: z.enum(CONNECTION_STATUSES),
  provider: text,
  reason: text,
  replaced_by: text,
  replaces: text,
  updated_at: text,
  last_webhook_update: text,
  clock: z.looseObject({ status: text }),
});

const DELIVERY_STATUSES: Record<DeliveryStatus, true> = {
  received: true,
  processed: true,
  ignored: true,
  failed: true,
  stale: true,
  parked: true,
};

// What the outbox and the publisher read of a delivery (shared/store/deliveries.ts `StoredDelivery`).
const deliveryItem = z.looseObject({
  event_id: z.string(),
  status: z.enum(Object.keys(DELIVERY_STATUSES) as [DeliveryStatus, ...DeliveryStatus[]]),
  type: z.string(),
  archive_key: z.string(),
  payload_key: text,
  bytes: z.number(),
  received_at: z.string(),
  user_id: text,
  reference_id: text,
  provider: text,
  terra_reference: text,
  expected_payloads: z.optional(z.number()),
  data: z.optional(z.boolean()),
});

// A data request (shared/store/backfill.ts): `received` is a DynamoDB string set, absent until a payload
// (only counted here; a check of the set alone keeps zod's set and union schemas out of the bundle).
const requestItem = z.looseObject({
  event_id: z.string(),
  user_id: z.string(),
  reference: text,
  status: z.optional(z.enum(['requested', 'receiving', 'complete', 'failed'])),
  reference_id: text,
  data_type: text,
  expected: z.optional(z.number()),
  received: z.optional(
    z.custom<Set<string> | string[]>((value) => value instanceof Set || Array.isArray(value)),
  ),
  from: text,
  to: text,
  reason: text,
});

const deletionItem = z.looseObject({
  deletion_id: z.string(),
  reference_id: z.string(),
  status: z.enum(['running', 'done']),
  user_ids: z.array(z.string()),
  finished_at: text,
});

type Images<T> = { old?: T; new?: T };

/**
 * Both images through one schema and one conversion: the images, or the first problem found (the
 * attribute and what is wrong with it, never its value: items hold app users' identities).
 */
function both<S extends z.ZodMiniType, T>(
  images: StreamImages,
  name: string,
  schema: S,
  convert: (item: z.output<S>) => T,
): Images<T> | string {
  const out: Images<T> = {};
  for (const side of ['old', 'new'] as const) {
    const image = images[side];
    if (image === undefined) continue;
    const parsed = schema.safeParse(image);
    if (!parsed.success) {
      const [issue] = parsed.error.issues;
      return `${name} (${side} image): ${issue?.path.join('.') || 'item'}: ${issue ? problem(issue) : 'unreadable'}`;
    }
    out[side] = convert(parsed.data);
  }
  return out;
}

/** What an attribute should have been (zod/mini carries no messages of its own). */
function problem(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type') return `expected ${issue.expected}`;
  if (issue.code === 'invalid_value') return `expected one of ${issue.values.join(', ')}`;
  return issue.code;
}

const unreadable = (table: StreamImages['table'], reason: string): CommittedChange => ({
  kind: 'unknown',
  table,
  reason,
});

/** A stream record's images → what committed, in the domain's terms. Never throws. */
export function decodeChange(images: StreamImages): CommittedChange {
  const { table } = images;
  if (table === 'connections') {
    const records = both(images, 'connection record', connectionItem, (item) => toRecord(item).record);
    return typeof records === 'string' ? unreadable(table, records) : { kind: 'connection', ...records };
  }
  const key = images.new?.event_id ?? images.old?.event_id;
  if (typeof key !== 'string') return unreadable(table, 'an inbox item without an event_id');
  const kind = reservedKind(key);
  switch (kind) {
    case undefined: {
      // Checked above for all the outbox and the publisher read; the rest as the store's reads take it.
      const deliveries = both(
        images,
        'delivery',
        deliveryItem,
        (item) => item as unknown as RecordedDelivery,
      );
      return typeof deliveries === 'string'
        ? unreadable(table, deliveries)
        : { kind: 'delivery', ...deliveries };
    }
    case 'request': {
      const requests = both(images, 'data request', requestItem, (item) => ({
        ...toRequest(item),
        // Written by every count; the key holds it too (`request#<user_id>#<reference>`).
        reference: item.reference ?? key.slice(key.indexOf('#', key.indexOf('#') + 1) + 1),
      }));
      return typeof requests === 'string'
        ? unreadable(table, requests)
        : { kind: 'data_request', ...requests };
    }
    case 'deletion': {
      const jobs = both(images, 'deletion job', deletionItem, toDeletionJob);
      return typeof jobs === 'string' ? unreadable(table, jobs) : { kind: 'deletion', ...jobs };
    }
    case 'owner':
    case 'parked':
    case 'sdk_claim':
    case 'checkpoint':
      return { kind: 'bookkeeping', item: kind };
    case 'unknown':
      return unreadable(table, 'an inbox item under a reserved key of no known kind');
  }
}
