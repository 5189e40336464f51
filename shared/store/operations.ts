import {
  type _Record,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import { type DynamoDBDocumentClient, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { toCommittedChange } from '#shared/aws/streams';
import type { CommittedChange } from '#shared/events/outbox';
import type {
  AttentionStatus,
  ConnectionState,
  DeliveryRecord,
  DeliveryScan,
  OnProgress,
  OperationsReader,
  StreamBatch,
} from '#shared/operations/ports';
import { batchGetAll, type Item } from './conditions.ts';
import { ConnectionStore, toRecord } from './connections.ts';
import { INBOX_KEYS } from './tables.ts';

/**
 * The reads the operations CLI makes (shared/operations/ports.ts): the inbox by attention (the sparse
 * `byAttention` index, keys only, then the items), by id, or by a filtered scan; connection records by
 * Terra user (tombstones told apart) and by app user. Nothing here writes.
 */
/** A stored delivery → what the operations see: the lease token (a concurrency secret) stays behind. */
function toDelivery(item: Item): DeliveryRecord {
  const { lease_token: _token, attention: _attention, ...rest } = item;
  return rest as unknown as DeliveryRecord;
}

/** Our own reserved items (`reconcile#checkpoint`, `deletion#…`) are no deliveries. */
const isReserved = (event_id: unknown) => typeof event_id !== 'string' || event_id.includes('#');

function toState(item: Item | undefined): ConnectionState {
  return item === undefined ? { state: 'missing' } : { state: 'live', record: toRecord(item).record };
}

export class OperationsStore implements OperationsReader {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tables: { connectionsTable: string; inboxTable: string },
  ) {}

  async deliveriesByStatus(
    status: AttentionStatus,
    since?: string,
    onProgress?: OnProgress,
  ): Promise<DeliveryRecord[]> {
    const ids: string[] = [];
    let ExclusiveStartKey: Item | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.tables.inboxTable,
          IndexName: INBOX_KEYS.byAttentionIndex,
          KeyConditionExpression:
            since === undefined ? '#attention = :status' : '#attention = :status AND #received >= :since',
          ExpressionAttributeNames: {
            '#attention': INBOX_KEYS.attentionKey,
            ...(since === undefined ? {} : { '#received': INBOX_KEYS.attentionSort }),
          },
          ExpressionAttributeValues: {
            ':status': status,
            ...(since === undefined ? {} : { ':since': since }),
          },
          ExclusiveStartKey,
        }),
      );
      for (const item of page.Items ?? []) {
        if (!isReserved(item.event_id)) ids.push(String(item.event_id));
      }
      onProgress?.(ids.length);
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    // The index is eventually consistent: the items, read strongly, say where each stands now.
    return (await this.deliveries(ids, onProgress)).filter((delivery) => delivery.status === status);
  }

  async deliveries(event_ids: readonly string[], onProgress?: OnProgress): Promise<DeliveryRecord[]> {
    const wanted = [...new Set(event_ids)].filter((event_id) => !isReserved(event_id));
    const items = await batchGetAll(
      this.doc,
      this.tables.inboxTable,
      wanted.map((event_id) => ({ [INBOX_KEYS.partitionKey]: event_id })),
      onProgress,
    );
    return items.map(toDelivery);
  }

  async scanDeliveries(filter: DeliveryScan, onProgress?: OnProgress): Promise<DeliveryRecord[]> {
    const conditions = ['NOT contains(#id, :reserved)'];
    const names: Record<string, string> = { '#id': INBOX_KEYS.partitionKey };
    const values: Record<string, unknown> = { ':reserved': '#' };
    const add = (attribute: string, operator: string, value: unknown) => {
      names[`#${attribute}`] = attribute;
      values[`:${attribute}`] = value;
      conditions.push(`#${attribute} ${operator} :${attribute}`);
    };
    if (filter.since !== undefined) add('received_at', '>=', filter.since);
    if (filter.type !== undefined) add('type', '=', filter.type);
    if (filter.status !== undefined) add('status', '=', filter.status);
    if (filter.user_id !== undefined) add('user_id', '=', filter.user_id);
    const found: DeliveryRecord[] = [];
    let scanned = 0;
    let ExclusiveStartKey: Item | undefined;
    do {
      const page = await this.doc.send(
        new ScanCommand({
          TableName: this.tables.inboxTable,
          FilterExpression: conditions.join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ExclusiveStartKey,
        }),
      );
      scanned += page.ScannedCount ?? 0;
      for (const item of page.Items ?? []) found.push(toDelivery(item));
      onProgress?.(scanned);
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    return found;
  }

  async connectionStates(user_ids: readonly string[]): Promise<Map<string, ConnectionState>> {
    const store = new ConnectionStore(this.doc, this.tables);
    const owners = await store.owners(user_ids);
    const owned = [...owners].flatMap(([user_id, owner]) =>
      owner.state === 'owned' ? [{ reference_id: owner.reference_id, user_id }] : [],
    );
    const items = await batchGetAll(this.doc, this.tables.connectionsTable, owned);
    const byId = new Map(items.map((item) => [String(item.user_id), item]));
    return new Map(
      [...owners].map(([user_id, owner]): [string, ConnectionState] => [
        user_id,
        owner.state === 'deleted'
          ? { state: 'deleted', deleted_at: owner.deleted_at }
          : toState(byId.get(user_id)),
      ]),
    );
  }

  async userIdsByReference(reference_id: string): Promise<string[]> {
    const records = await new ConnectionStore(this.doc, this.tables).listByReference(reference_id);
    return records.map((record) => record.user_id).sort();
  }
}

export class StreamRecordsGone extends Error {
  override name = 'StreamRecordsGone';
}

const EMPTY_PAGES = 10;

/**
 * Reads the records of one failed stream batch back from the table's stream (kept 24 hours), as item
 * changes for the publisher. Records the stream no longer holds are an error, never silently skipped.
 */
export class StreamBatchReader {
  private readonly client: DynamoDBStreamsClient;

  constructor(
    private readonly tables: { connectionsTable: string; inboxTable: string },
    client?: DynamoDBStreamsClient,
  ) {
    this.client = client ?? new DynamoDBStreamsClient({ maxAttempts: 3 });
  }

  async read(batch: StreamBatch): Promise<CommittedChange[]> {
    const end = BigInt(batch.endSequenceNumber);
    let iterator: string | undefined;
    try {
      const answer = await this.client.send(
        new GetShardIteratorCommand({
          StreamArn: batch.streamArn,
          ShardId: batch.shardId,
          ShardIteratorType: 'AT_SEQUENCE_NUMBER',
          SequenceNumber: batch.startSequenceNumber,
        }),
      );
      iterator = answer.ShardIterator;
    } catch (error) {
      if (
        error instanceof Error &&
        ['TrimmedDataAccessException', 'ResourceNotFoundException'].includes(error.name)
      ) {
        throw new StreamRecordsGone(`the stream no longer holds these records (${error.name})`);
      }
      throw error;
    }
    const changes: CommittedChange[] = [];
    for (let empty = 0; iterator !== undefined && empty < EMPTY_PAGES; ) {
      const page = await this.client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
      const records: _Record[] = page.Records ?? [];
      empty = records.length === 0 ? empty + 1 : 0;
      for (const record of records) {
        const sequence = BigInt(record.dynamodb?.SequenceNumber ?? '0');
        if (sequence > end) return changes;
        const change = toCommittedChange(
          { dynamodb: record.dynamodb, eventSourceARN: batch.streamArn } as unknown as Parameters<
            typeof toCommittedChange
          >[0],
          this.tables,
        );
        if (change) changes.push(change);
        if (sequence === end) return changes;
      }
      iterator = page.NextShardIterator;
    }
    throw new StreamRecordsGone('the stream ended before the batch’s last record');
  }

  destroy(): void {
    this.client.destroy();
  }
}
