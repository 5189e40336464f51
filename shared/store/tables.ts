import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

/**
 * Key design of both tables (docs/architecture.md, "Data model"), used by local mode and tests to create
 * them; the CDK stack declares the same keys and a test holds the two together.
 *
 * Connections: one item per Terra `user_id` and kind (`sk`): the connection record (`connection`), and
 * the backfill items of that user. The sparse index `byReference` lists an app user's items: only items
 * that carry a `reference_id` are in it, so a Terra user no app user owns is reachable by no caller.
 * It projects keys only, so touching `last_webhook_update` on every data event writes no index entry.
 */
export const CONNECTIONS_KEYS = {
  partitionKey: 'user_id',
  sortKey: 'sk',
  byReferenceIndex: 'byReference',
  referenceKey: 'reference_id',
  ttlAttribute: 'expires_at',
} as const;

/** The sort key of the connection record itself. */
export const RECORD_SK = 'connection';

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

const STREAM = { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' } as const;

export function connectionsTableInput(TableName: string): CreateTableCommandInput {
  const k = CONNECTIONS_KEYS;
  return {
    TableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: k.partitionKey, AttributeType: 'S' },
      { AttributeName: k.sortKey, AttributeType: 'S' },
      { AttributeName: k.referenceKey, AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: k.partitionKey, KeyType: 'HASH' },
      { AttributeName: k.sortKey, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: k.byReferenceIndex,
        KeySchema: [
          { AttributeName: k.referenceKey, KeyType: 'HASH' },
          { AttributeName: k.partitionKey, KeyType: 'RANGE' },
        ],
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
