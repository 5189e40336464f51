import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { INBOX_KEYS } from './tables.ts';

/** How often a store retries a lost race or keys DynamoDB left unprocessed. */
export const MAX_ATTEMPTS = 8;

/** A conditional write (or a transaction) that lost a race or found its condition false. */
export function isConditionFailure(error: unknown): boolean {
  if (error instanceof TransactionCanceledException) {
    return (error.CancellationReasons ?? []).some(
      (reason) => reason.Code === 'ConditionalCheckFailed' || reason.Code === 'TransactionConflict',
    );
  }
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

/** Backs off a little before re-reading after a lost race. */
export const jitter = (attempt: number) =>
  new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));

/** An item (or its key) as the document client hands it over: only the store reads inside one. */
export type Item = Record<string, unknown>;

/**
 * Reads every item of `keys` (strongly consistent), 100 per request as DynamoDB allows, asking again for
 * what it leaves unprocessed; `onProgress` after each hundred.
 */
export async function batchGetAll(
  doc: DynamoDBDocumentClient,
  table: string,
  keys: readonly Item[],
  onProgress?: (done: number, total: number) => void,
): Promise<Item[]> {
  const items: Item[] = [];
  for (let start = 0; start < keys.length; start += 100) {
    let pending: Item[] = keys.slice(start, start + 100);
    for (let attempt = 1; pending.length > 0; attempt++) {
      const result = await doc.send(
        new BatchGetCommand({ RequestItems: { [table]: { Keys: pending, ConsistentRead: true } } }),
      );
      items.push(...(result.Responses?.[table] ?? []));
      pending = (result.UnprocessedKeys?.[table]?.Keys ?? []) as Item[];
      if (pending.length > 0) {
        if (attempt >= MAX_ATTEMPTS) throw new Error('DynamoDB left keys unprocessed after retries');
        await jitter(attempt);
      }
    }
    onProgress?.(Math.min(keys.length, start + 100), keys.length);
  }
  return items;
}

/**
 * Every inbox item the sparse `byAttention` index holds under `attention` (keys only there), read back
 * strongly consistent: the parked deliveries for the reconcile and for a deletion.
 */
export async function itemsByAttention(
  doc: DynamoDBDocumentClient,
  table: string,
  attention: string,
): Promise<Item[]> {
  const keys: Item[] = [];
  let ExclusiveStartKey: Item | undefined;
  do {
    const page = await doc.send(
      new QueryCommand({
        TableName: table,
        IndexName: INBOX_KEYS.byAttentionIndex,
        KeyConditionExpression: '#a = :a',
        ExpressionAttributeNames: { '#a': INBOX_KEYS.attentionKey },
        ExpressionAttributeValues: { ':a': attention },
        ExclusiveStartKey,
      }),
    );
    keys.push(...(page.Items ?? []).map((item) => ({ event_id: item.event_id })));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return batchGetAll(doc, table, keys);
}
