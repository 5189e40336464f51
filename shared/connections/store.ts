import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { CONNECTIONS_KEYS } from '../aws/tables.ts';
import { type ConnectionEvent, type ConnectionRecord, NO_REFERENCE } from './model.ts';
import { applyEvent, sameRecord } from './transitions.ts';

export type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** Raised when a write that had to hold together with ours (the inbox lease) no longer holds. */
export class LeaseLostError extends Error {
  override name = 'LeaseLostError';
}

/** A record as stored: the record plus an optimistic-concurrency version. */
type StoredRecord = ConnectionRecord & { version: number };

const MAX_ATTEMPTS = 8;

function isConditionFailure(code: string | undefined): boolean {
  return code === 'ConditionalCheckFailed' || code === 'TransactionConflict';
}

function stripVersion(item: StoredRecord): ConnectionRecord {
  const { version: _version, ...record } = item;
  return record;
}

/**
 * The only code that knows the connections table. Every change is "it was version N, it is now X" as
 * one conditional write (a transaction when several records, or the inbox, must move together); a lost
 * race re-reads and re-applies, so concurrent deliveries for one user never overwrite each other.
 */
export class ConnectionStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async get(reference_id: string, user_id: string): Promise<ConnectionRecord | undefined> {
    const item = await this.getStored(reference_id, user_id);
    return item && stripVersion(item);
  }

  async listByReference(reference_id: string): Promise<ConnectionRecord[]> {
    const records: ConnectionRecord[] = [];
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': CONNECTIONS_KEYS.partitionKey },
          ExpressionAttributeValues: { ':pk': reference_id },
          ExclusiveStartKey,
        }),
      );
      for (const item of page.Items ?? []) records.push(stripVersion(item as StoredRecord));
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    return records;
  }

  /** One page of every record (the reconcile's sweep); pass the returned key back for the next page. */
  async scanPage(
    startKey?: Record<string, unknown>,
  ): Promise<{ records: ConnectionRecord[]; nextKey?: Record<string, unknown> }> {
    const page = await this.doc.send(
      new ScanCommand({ TableName: this.table, ExclusiveStartKey: startKey, Limit: 200 }),
    );
    const records = (page.Items ?? []).map((item) => stripVersion(item as StoredRecord));
    return page.LastEvaluatedKey ? { records, nextKey: page.LastEvaluatedKey } : { records };
  }

  /** Resolves a Terra user to its record through the `byUserId` index (eventually consistent). */
  async findByUserId(user_id: string): Promise<ConnectionRecord | undefined> {
    const page = await this.doc.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: CONNECTIONS_KEYS.byUserIdIndex,
        KeyConditionExpression: '#uid = :uid',
        ExpressionAttributeNames: { '#uid': CONNECTIONS_KEYS.sortKey },
        ExpressionAttributeValues: { ':uid': user_id },
        Limit: 1,
      }),
    );
    const item = page.Items?.[0];
    return item && stripVersion(item as StoredRecord);
  }

  /**
   * Applies events (one per user; a reauth brings two) in one atomic write, together with `alsoWrite`
   * (the inbox completion). Returns the records after the write.
   */
  async apply(events: readonly ConnectionEvent[], alsoWrite?: TransactItem): Promise<ConnectionRecord[]> {
    const keys = await Promise.all(events.map((event) => this.keyFor(event)));
    for (let attempt = 1; ; attempt++) {
      const currents = await Promise.all(keys.map((key) => this.getStored(key.reference_id, key.user_id)));
      const nexts = events.map((event, i) => {
        const current = currents[i];
        return applyEvent(current && stripVersion(current), event);
      });
      const puts: TransactItem[] = [];
      nexts.forEach((next, i) => {
        const current = currents[i];
        if (current && sameRecord(stripVersion(current), next)) return;
        puts.push({
          Put: {
            TableName: this.table,
            Item: { ...next, version: (current?.version ?? 0) + 1 },
            ...(current
              ? {
                  ConditionExpression: '#v = :v',
                  ExpressionAttributeNames: { '#v': 'version' },
                  ExpressionAttributeValues: { ':v': current.version },
                }
              : {
                  ConditionExpression: 'attribute_not_exists(#uid)',
                  ExpressionAttributeNames: { '#uid': CONNECTIONS_KEYS.sortKey },
                }),
          },
        });
      });
      const items = alsoWrite ? [...puts, alsoWrite] : puts;
      try {
        await this.write(items);
        return nexts;
      } catch (error) {
        if (!(error instanceof TransactionCanceledException) && !isConditionalCheck(error)) throw error;
        const reasons =
          error instanceof TransactionCanceledException ? (error.CancellationReasons ?? []) : [];
        const leaseFailed = puts.length === 0 || reasons[puts.length]?.Code === 'ConditionalCheckFailed';
        if (alsoWrite && leaseFailed) {
          throw new LeaseLostError('the inbox lease was taken over before the records were written');
        }
        const retriable =
          isConditionalCheck(error) || reasons.some((reason) => isConditionFailure(reason.Code ?? undefined));
        if (!retriable || attempt >= MAX_ATTEMPTS) throw error;
        // Another delivery for the same user won the race: back off a little, re-read, re-apply.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
      }
    }
  }

  private async write(items: TransactItem[]): Promise<void> {
    if (items.length === 0) return;
    const only = items[0];
    if (items.length === 1 && only?.Put) {
      await this.doc.send(new PutCommand(only.Put));
      return;
    }
    if (items.length === 1 && only?.Update) {
      await this.doc.send(new UpdateCommand(only.Update));
      return;
    }
    await this.doc.send(new TransactWriteCommand({ TransactItems: items }));
  }

  private async getStored(reference_id: string, user_id: string): Promise<StoredRecord | undefined> {
    const result = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: { reference_id, user_id }, ConsistentRead: true }),
    );
    return result.Item as StoredRecord | undefined;
  }

  /**
   * Where an event's record lives: under its reference_id; without one, wherever the user already is,
   * else under the reserved partition so that it is never dropped and stays findable by user_id.
   */
  private async keyFor(event: ConnectionEvent): Promise<{ reference_id: string; user_id: string }> {
    if (event.reference_id !== null) return { reference_id: event.reference_id, user_id: event.user_id };
    const existing = await this.findByUserId(event.user_id);
    return { reference_id: existing?.reference_id ?? NO_REFERENCE, user_id: event.user_id };
  }
}

function isConditionalCheck(error: unknown): error is Error {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}
