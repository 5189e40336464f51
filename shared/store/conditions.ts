import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

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

type Key = Record<string, unknown>;

/**
 * Reads every item of `keys` (strongly consistent), 100 per request as DynamoDB allows, asking again for
 * what it leaves unprocessed; `onProgress` after each hundred.
 */
export async function batchGetAll(
  doc: DynamoDBDocumentClient,
  table: string,
  keys: readonly Key[],
  onProgress?: (done: number, total: number) => void,
): Promise<Key[]> {
  const items: Key[] = [];
  for (let start = 0; start < keys.length; start += 100) {
    let pending: Key[] = keys.slice(start, start + 100);
    for (let attempt = 1; pending.length > 0; attempt++) {
      const result = await doc.send(
        new BatchGetCommand({ RequestItems: { [table]: { Keys: pending, ConsistentRead: true } } }),
      );
      items.push(...(result.Responses?.[table] ?? []));
      pending = (result.UnprocessedKeys?.[table]?.Keys ?? []) as Key[];
      if (pending.length > 0) {
        if (attempt >= MAX_ATTEMPTS) throw new Error('DynamoDB left keys unprocessed after retries');
        await jitter(attempt);
      }
    }
    onProgress?.(Math.min(keys.length, start + 100), keys.length);
  }
  return items;
}
