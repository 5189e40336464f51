import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { DeletionJob, DeletionStorePort } from '#shared/privacy/deletion';
import { type Item, isConditionFailure, itemsByAttention } from './conditions.ts';
import { deletionKey, PARKED_SHARDS, RESERVED } from './tables.ts';

/**
 * Deletion jobs (one per app user, in the inbox table under `deletion#<reference_id>`), tombstones in
 * place of the owner guards, and the deletes of a user's record, data requests and deliveries.
 */
export class DeletionStore implements DeletionStorePort {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tables: { connectionsTable: string; inboxTable: string },
    private readonly options: { tombstoneDays: number; now: () => number },
  ) {}

  async job(reference_id: string): Promise<DeletionJob | undefined> {
    return readDeletionJob(this.doc, this.tables.inboxTable, reference_id);
  }

  async save(job: DeletionJob): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tables.inboxTable,
          // Kept as long as the tombstones, so `GET /me/deletion` can still say it is done.
          Item: { ...job, event_id: deletionKey(job.reference_id), expires_at: this.expiresAt() },
          ConditionExpression: 'attribute_not_exists(event_id) OR version = :previous',
          ExpressionAttributeValues: { ':previous': job.version - 1 },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async tombstone(user_id: string, at: number): Promise<void> {
    const guard = { event_id: RESERVED.owner(user_id) };
    // The guard becomes the tombstone first, keeping its owner and requests: from then on no write can
    // create, move or touch-create the record, nor add a data request (each is conditional on the guard),
    // and a deletion that stops midway finds here again what is left to delete.
    const marked = await this.doc.send(
      new UpdateCommand({
        TableName: this.tables.inboxTable,
        Key: guard,
        UpdateExpression:
          'SET user_id = :user, deleted_at = if_not_exists(deleted_at, :at), expires_at = :ttl',
        ExpressionAttributeValues: {
          ':user': user_id,
          ':at': new Date(at).toISOString(),
          ':ttl': this.expiresAt(),
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    const item = marked.Attributes ?? {};
    const requests = item.requests instanceof Set ? [...(item.requests as Set<string>)] : [];
    if (typeof item.reference_id === 'string') {
      await this.deleteKeys(this.tables.connectionsTable, [{ reference_id: item.reference_id, user_id }]);
    }
    await this.deleteKeys(this.tables.inboxTable, [
      ...requests.map((reference) => ({ event_id: RESERVED.request(user_id, reference) })),
      ...Array.from({ length: PARKED_SHARDS }, (_, shard) => ({ event_id: RESERVED.parked(user_id, shard) })),
    ]);
    // What remains is the tombstone: the Terra user's id and a time, nothing else.
    await this.doc.send(
      new UpdateCommand({
        TableName: this.tables.inboxTable,
        Key: guard,
        UpdateExpression: 'REMOVE reference_id, requests',
      }),
    );
  }

  async parkedNaming(reference_id: string): Promise<string[]> {
    const parked = await itemsByAttention(this.doc, this.tables.inboxTable, 'parked');
    return [
      ...new Set(
        parked
          .filter((item) => item.reference_id === reference_id && typeof item.user_id === 'string')
          .map((item) => String(item.user_id)),
      ),
    ].sort();
  }

  async deleteDeliveries(event_ids: readonly string[]): Promise<number> {
    return this.deleteKeys(
      this.tables.inboxTable,
      event_ids.map((event_id) => ({ event_id })),
    );
  }

  /**
   * One DeleteItem per key, a few at a time: a deletion is allowed deletes and nothing else, and
   * BatchWriteItem's permission would allow puts as well. Answers how many of the keys held an item
   * (the old item comes back at no extra cost).
   */
  private async deleteKeys(table: string, keys: Item[]): Promise<number> {
    const queue = [...keys];
    let deleted = 0;
    const worker = async () => {
      for (let Key = queue.shift(); Key; Key = queue.shift()) {
        const result = await this.doc.send(
          new DeleteCommand({ TableName: table, Key, ReturnValues: 'ALL_OLD' }),
        );
        if (result.Attributes) deleted++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(16, queue.length) }, worker));
    return deleted;
  }

  private expiresAt(): number {
    return Math.floor(this.options.now() / 1000) + this.options.tombstoneDays * 86_400;
  }
}

/** An app user's deletion job as stored (one item in the inbox table), read strongly consistent. */
export async function readDeletionJob(
  doc: DynamoDBDocumentClient,
  inboxTable: string,
  reference_id: string,
): Promise<DeletionJob | undefined> {
  const result = await doc.send(
    new GetCommand({
      TableName: inboxTable,
      Key: { event_id: deletionKey(reference_id) },
      ConsistentRead: true,
    }),
  );
  return result.Item && toDeletionJob(result.Item);
}

/** A stored deletion job → the job (its key and expiry apart). */
export function toDeletionJob(item: Item): DeletionJob {
  const { event_id: _id, expires_at: _ttl, ...job } = item as unknown as DeletionJob & StoredKeys;
  return job;
}

type StoredKeys = { event_id: string; expires_at: number };
