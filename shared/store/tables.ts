import { createHash } from 'node:crypto';
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

/**
 * Key design of both tables (docs/architecture.md, "Data model"; docs/decisions/0020), used by local mode
 * and tests to create them; the CDK stack declares the same keys and a test holds the two together.
 *
 * Connections, as the product promises them: partition key `reference_id` (the app user), sort key
 * `user_id` (the Terra user), and the index `byUserId` from a Terra user to its record. The table holds
 * connection records and nothing else: an app team may `Query reference_id = <user>` and gets exactly
 * that user's connections. What is not a connection (the owner guard, data requests, parked deliveries,
 * tombstones) lives in the inbox table under reserved keys.
 */
export const CONNECTIONS_KEYS = {
  partitionKey: 'reference_id',
  sortKey: 'user_id',
  byUserIdIndex: 'byUserId',
} as const;

/**
 * Reserved inbox keys. Each contains `#`, which no delivery id can (shared/ids.ts TRACE_ID), so none can
 * collide with a delivery; none is reachable from a caller's identity (nothing reads them by a JWT claim).
 */
export const RESERVED = {
  /**
   * The one owner of a Terra user: `{user_id, reference_id}`, written in the same transaction as the
   * record it guards, so a Terra user has one record whatever races; a tombstone once the user is deleted.
   */
  owner: (user_id: string) => `owner#${user_id}`,
  /** A data request of a Terra user, by Terra's request reference. */
  request: (user_id: string, reference: string) => `request#${user_id}#${reference}`,
  /**
   * The ids of the deliveries parked for a Terra user no one owns yet, spread over `PARKED_SHARDS` items
   * by the first hex digit of the id's SHA-256, so that no item nears DynamoDB's 400 KB however many.
   */
  parked: (user_id: string, shard: number) => `parked#${user_id}#${shard.toString(16)}`,
  /** An app user's pending claim on SDK connections (`POST /sdk-token`). */
  sdkClaim: (reference_id: string) => `sdk#${reference_id}`,
} as const;

/**
 * Deliveries (the webhook inbox): one item per delivery id, plus a few reserved items whose keys contain
 * `#`, which no delivery id can (shared/ids.ts TRACE_ID). The sparse index `byAttention` holds only
 * deliveries that are not plainly processed (failed, stale, ignored, in progress), by receive time, for
 * the operations CLI; a processed data delivery writes no index entry.
 */
export const INBOX_KEYS = {
  partitionKey: 'event_id',
  ttlAttribute: 'expires_at',
  byAttentionIndex: 'byAttention',
  attentionKey: 'attention',
  attentionSort: 'received_at',
} as const;

/** The reconcile's checkpoint lives in the inbox table under this reserved key. */
export const CHECKPOINT_ID = 'reconcile#checkpoint';

/** A deletion job, per app user. */
export const deletionKey = (reference_id: string): string => `deletion#${reference_id}`;

/**
 * What a reserved inbox key names, by its first segment (up to the first `#`): the reader's side of the
 * builders above (a unit test holds the two together). An id without `#` is a delivery's.
 */
export type ReservedKind = 'owner' | 'request' | 'parked' | 'sdk_claim' | 'deletion' | 'checkpoint';

const RESERVED_KINDS: ReadonlyMap<string, ReservedKind> = new Map([
  ['owner', 'owner'],
  ['request', 'request'],
  ['parked', 'parked'],
  ['sdk', 'sdk_claim'],
  ['deletion', 'deletion'],
  ['reconcile', 'checkpoint'],
]);

/** The reserved item an inbox key names; undefined for a delivery's id, `unknown` for a `#` key of no kind. */
export function reservedKind(event_id: string): ReservedKind | 'unknown' | undefined {
  const at = event_id.indexOf('#');
  if (at < 0) return undefined;
  return RESERVED_KINDS.get(event_id.slice(0, at)) ?? 'unknown';
}

/** How many items a Terra user's parked list is spread over (16: one per hex digit). */
export const PARKED_SHARDS = 16;

/** The shard of a parked delivery's id. */
export function parkedShard(event_id: string): number {
  return Number.parseInt(createHash('sha256').update(event_id).digest('hex').slice(0, 1), 16);
}

const STREAM = { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' } as const;

export function connectionsTableInput(TableName: string): CreateTableCommandInput {
  const k = CONNECTIONS_KEYS;
  return {
    TableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: k.partitionKey, AttributeType: 'S' },
      { AttributeName: k.sortKey, AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: k.partitionKey, KeyType: 'HASH' },
      { AttributeName: k.sortKey, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: k.byUserIdIndex,
        KeySchema: [{ AttributeName: k.sortKey, KeyType: 'HASH' }],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      },
    ],
    StreamSpecification: STREAM,
  };
}

export function inboxTableInput(TableName: string): CreateTableCommandInput {
  const k = INBOX_KEYS;
  return {
    TableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: k.partitionKey, AttributeType: 'S' },
      { AttributeName: k.attentionKey, AttributeType: 'S' },
      { AttributeName: k.attentionSort, AttributeType: 'S' },
    ],
    KeySchema: [{ AttributeName: k.partitionKey, KeyType: 'HASH' }],
    GlobalSecondaryIndexes: [
      {
        IndexName: k.byAttentionIndex,
        KeySchema: [
          { AttributeName: k.attentionKey, KeyType: 'HASH' },
          { AttributeName: k.attentionSort, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      },
    ],
    StreamSpecification: STREAM,
  };
}
