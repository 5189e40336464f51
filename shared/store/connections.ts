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
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { BackfillPlan, DataRequest } from '#shared/backfill/model';
import type { ConnectionEvent, ConnectionRecord } from '#shared/connections/model';
import type { ConnectionRepository } from '#shared/connections/ports';
import { applyEvent, sameRecord } from '#shared/connections/transitions';
import { isBackfillSk, PLAN_SK, toPlan, toRequest } from './backfill.ts';
import { batchGetAll, isConditionFailure, jitter, MAX_ATTEMPTS } from './conditions.ts';
import { CONNECTIONS_KEYS, RECORD_SK } from './tables.ts';

export type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** A record as stored: the record, its sort key and an optimistic-concurrency version. */
type StoredRecord = ConnectionRecord & { sk: string; version: number };

/** A deleted Terra user: its id and a time, nothing else (docs/architecture.md, "Deleting a user"). */
export interface Tombstone {
  user_id: string;
  sk: string;
  deleted_at: string;
  expires_at: number;
}

export type StoredConnection =
  | { state: 'missing' }
  | { state: 'deleted' }
  | { state: 'live'; record: ConnectionRecord; version: number };

/** What touching a record with a data event found. */
export type Touch =
  | { state: 'touched' | 'unchanged'; record: ConnectionRecord }
  | { state: 'deleted' }
  | { state: 'missing' };

function isTombstone(item: Record<string, unknown>): boolean {
  return item.status === undefined && item.deleted_at !== undefined;
}

function toStored(item: Record<string, unknown> | undefined): StoredConnection {
  if (item === undefined) return { state: 'missing' };
  if (isTombstone(item)) return { state: 'deleted' };
  const { sk: _sk, version, ...record } = item as unknown as StoredRecord;
  return { state: 'live', record, version };
}

/**
 * Every key the `byReference` index holds for an app user (records, backfill plans and requests; the
 * index projects keys only), all pages. Shared by the store and the operations CLI.
 */
export async function keysByReference(
  doc: DynamoDBDocumentClient,
  table: string,
  reference_id: string,
): Promise<Array<{ user_id: string; sk: string }>> {
  const keys: Array<{ user_id: string; sk: string }> = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new QueryCommand({
        TableName: table,
        IndexName: CONNECTIONS_KEYS.byReferenceIndex,
        KeyConditionExpression: '#ref = :ref',
        ExpressionAttributeNames: { '#ref': CONNECTIONS_KEYS.referenceKey },
        ExpressionAttributeValues: { ':ref': reference_id },
        ExclusiveStartKey,
      }),
    );
    for (const item of page.Items ?? []) {
      keys.push({
        user_id: String(item[CONNECTIONS_KEYS.partitionKey]),
        sk: String(item[CONNECTIONS_KEYS.sortKey]),
      });
    }
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return keys;
}

const recordKey = (user_id: string) => ({ [CONNECTIONS_KEYS.partitionKey]: user_id, sk: RECORD_SK });

/**
 * The only code that knows the connections table. Every change is "it was version N, it is now X" as
 * one conditional write (a transaction when several records, or the delivery, must move together); a
 * lost race re-reads and re-applies, so concurrent deliveries for one user never overwrite each other.
 */
export class ConnectionStore implements ConnectionRepository {
  constructor(
    readonly doc: DynamoDBDocumentClient,
    readonly table: string,
  ) {}

  async read(user_id: string): Promise<StoredConnection> {
    const result = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: recordKey(user_id), ConsistentRead: true }),
    );
    return toStored(result.Item);
  }

  async deleted(user_ids: readonly string[]): Promise<Set<string>> {
    const states = await Promise.all(
      user_ids.map(async (user_id) => [user_id, await this.read(user_id)] as const),
    );
    return new Set(states.filter(([, stored]) => stored.state === 'deleted').map(([user_id]) => user_id));
  }

  async get(user_id: string): Promise<ConnectionRecord | undefined> {
    const stored = await this.read(user_id);
    return stored.state === 'live' ? stored.record : undefined;
  }

  /**
   * The index holds keys only and is eventually consistent; the records themselves are read strongly
   * and their owner checked again, so a record that changed hands since is never returned.
   */
  async listByReference(reference_id: string): Promise<ConnectionRecord[]> {
    return (await this.listOwned(reference_id, { backfill: false })).records;
  }

  /** An app user's records and, with them, their backfill plans and data requests (one index query). */
  async listOwned(
    reference_id: string,
    options: { backfill: boolean } = { backfill: true },
  ): Promise<{ records: ConnectionRecord[]; plans: BackfillPlan[]; requests: DataRequest[] }> {
    const keys = (await keysByReference(this.doc, this.table, reference_id)).filter(
      ({ sk }) => sk === RECORD_SK || (options.backfill && isBackfillSk(sk)),
    );
    const owned = {
      records: [] as ConnectionRecord[],
      plans: [] as BackfillPlan[],
      requests: [] as DataRequest[],
    };
    for (const item of await batchGetAll(this.doc, this.table, keys)) {
      if (item.reference_id !== reference_id) continue;
      if (item.sk === PLAN_SK) owned.plans.push(toPlan(item));
      else if (isBackfillSk(String(item.sk))) owned.requests.push(toRequest(item));
      else {
        const stored = toStored(item);
        if (stored.state === 'live') owned.records.push(stored.record);
      }
    }
    return owned;
  }

  async scanPage(next?: string): Promise<{ records: ConnectionRecord[]; next?: string }> {
    const page = await this.doc.send(
      new ScanCommand({
        TableName: this.table,
        ExclusiveStartKey: next === undefined ? undefined : (JSON.parse(next) as Record<string, unknown>),
        Limit: 200,
        ConsistentRead: true,
      }),
    );
    const records: ConnectionRecord[] = [];
    for (const item of page.Items ?? []) {
      const stored = item.sk === RECORD_SK ? toStored(item) : undefined;
      if (stored?.state === 'live') records.push(stored.record);
    }
    return page.LastEvaluatedKey ? { records, next: JSON.stringify(page.LastEvaluatedKey) } : { records };
  }

  async apply(events: readonly ConnectionEvent[]): Promise<Array<ConnectionRecord | undefined>> {
    return this.applyTogether(events);
  }

  /**
   * Applies events in one atomic write, together with `alongside` (the delivery's closing write, for
   * the delivery store). `onConflict` decides, after a cancelled transaction, whether the write that
   * goes alongside still holds; when it does not, its error is thrown and nothing is retried.
   */
  async applyTogether(
    events: readonly ConnectionEvent[],
    alongside?: { item: TransactItem; stillHolds: () => Promise<Error | undefined> },
  ): Promise<Array<ConnectionRecord | undefined>> {
    for (let attempt = 1; ; attempt++) {
      const currents = await Promise.all(events.map((event) => this.read(event.user_id)));
      const results: Array<ConnectionRecord | undefined> = [];
      const puts: TransactItem[] = [];
      for (const [i, event] of events.entries()) {
        const current = currents[i] ?? { state: 'missing' };
        // A deleted user stays deleted, whatever Terra still has in flight for it.
        if (current.state === 'deleted') {
          results.push(undefined);
          continue;
        }
        const before = current.state === 'live' ? current.record : undefined;
        const next = applyEvent(before, event);
        results.push(next);
        if (sameRecord(before, next)) continue;
        puts.push({
          Put: {
            TableName: this.table,
            Item: { ...next, sk: RECORD_SK, version: current.state === 'live' ? current.version + 1 : 1 },
            ...(current.state === 'live'
              ? {
                  ConditionExpression: '#v = :v',
                  ExpressionAttributeNames: { '#v': 'version' },
                  ExpressionAttributeValues: { ':v': current.version },
                }
              : {
                  ConditionExpression: 'attribute_not_exists(#uid)',
                  ExpressionAttributeNames: { '#uid': CONNECTIONS_KEYS.partitionKey },
                }),
          },
        });
      }
      try {
        await this.write(alongside ? [...puts, alongside.item] : puts);
        return results;
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
        const lost = await alongside?.stillHolds();
        if (lost) throw lost;
        if (attempt >= MAX_ATTEMPTS) throw error;
        // Another delivery for the same user won the race: re-read and re-apply.
        await jitter(attempt);
      }
    }
  }

  /**
   * A data event's whole effect (it moves only `last_webhook_update`) as one blind conditional update,
   * with no read first. It answers the record, so the caller learns the app user in the same round trip.
   */
  async touch(user_id: string, iso: string): Promise<Touch> {
    try {
      const result = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: recordKey(user_id),
          UpdateExpression: 'SET last_webhook_update = :t ADD version :one',
          ConditionExpression:
            'attribute_exists(#status) AND (attribute_not_exists(last_webhook_update) OR last_webhook_update < :t)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':t': iso, ':one': 1 },
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      const stored = toStored(result.Attributes);
      return stored.state === 'live' ? { state: 'touched', record: stored.record } : stored;
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const item = (error as Error & { Item?: Record<string, unknown> }).Item;
      const stored =
        item === undefined
          ? ({ state: 'missing' } as const)
          : toStored(unmarshall(item as Parameters<typeof unmarshall>[0]));
      return stored.state === 'live' ? { state: 'unchanged', record: stored.record } : stored;
    }
  }

  private async write(items: TransactItem[]): Promise<void> {
    const only = items[0];
    if (items.length === 0 || only === undefined) return;
    if (items.length === 1 && only.Put) await this.doc.send(new PutCommand(only.Put));
    else if (items.length === 1 && only.Update) await this.doc.send(new UpdateCommand(only.Update));
    else await this.doc.send(new TransactWriteCommand({ TransactItems: items }));
  }
}
