import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

/**
 * Key design of both tables (DESIGN §5), used by local mode and tests to create them; the CDK stack
 * declares the same keys and a test holds the two together.
 */
export const CONNECTIONS_KEYS = {
  partitionKey: 'reference_id',
  sortKey: 'user_id',
  byUserIdIndex: 'byUserId',
} as const;

export const INBOX_KEYS = { partitionKey: 'event_id', ttlAttribute: 'expires_at' } as const;

/** The reconcile's checkpoint lives in the inbox table under this reserved key. */
export const CHECKPOINT_ID = 'reconcile#checkpoint';

export function connectionsTableInput(TableName: string): CreateTableCommandInput {
  return {
    TableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: CONNECTIONS_KEYS.partitionKey, AttributeType: 'S' },
      { AttributeName: CONNECTIONS_KEYS.sortKey, AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: CONNECTIONS_KEYS.partitionKey, KeyType: 'HASH' },
      { AttributeName: CONNECTIONS_KEYS.sortKey, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: CONNECTIONS_KEYS.byUserIdIndex,
        KeySchema: [{ AttributeName: CONNECTIONS_KEYS.sortKey, KeyType: 'HASH' }],
        Projection: { ProjectionType: 'ALL' },
      },
    ],
  };
}

export function inboxTableInput(TableName: string): CreateTableCommandInput {
  return {
    TableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: INBOX_KEYS.partitionKey, AttributeType: 'S' }],
    KeySchema: [{ AttributeName: INBOX_KEYS.partitionKey, KeyType: 'HASH' }],
  };
}
