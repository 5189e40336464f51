import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException, type CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { connectionsTableInput } from '../../shared/aws/tables.ts';
import type { ConnectionEvent, ConnectionRecord } from '../../shared/connections/model.ts';
import { ConnectionStore, LeaseLostError, type TransactItem } from '../../shared/connections/store.ts';
import { DATA_TYPES } from '../../shared/terra/events.ts';
import { type Claim, type DeliveryFacts, type FinalStatus, Inbox } from '../../shared/webhooks/inbox.ts';

/**
 * Proof for the throughput target: three quarters of Terra's deliveries are data events, whose only
 * effect is `last_webhook_update = max(last_webhook_update, at)` (plus `updated_at` and the last event
 * id). That is monotonic and idempotent, so it needs neither a read nor a transaction: one conditional
 * UpdateItem touches the record, and the inbox item is closed by its own write (a crash between the two
 * leaves the lease to run out; Terra's retry re-applies the same max). A touch refused because the
 * record already holds this time or a later one changes nothing; anything else (no record yet, another
 * kind of event) takes the general path unchanged.
 */
export class TouchFirstStore extends ConnectionStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {
    super(client, tableName);
  }

  override async apply(
    events: readonly ConnectionEvent[],
    alsoWrite?: TransactItem,
  ): Promise<ConnectionRecord[]> {
    const event = events[0];
    if (events.length !== 1 || event?.change.kind !== 'data' || event.reference_id === null || !alsoWrite) {
      return super.apply(events, alsoWrite);
    }
    const iso = new Date(event.at).toISOString();
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { reference_id: event.reference_id, user_id: event.user_id },
          // `version` moves too, so a concurrent read-modify-write of the general path retries.
          UpdateExpression:
            'SET last_webhook_update = :at, updated_at = :at, last_event_id = :id ADD version :one',
          ConditionExpression:
            'attribute_exists(user_id) AND updated_at <= :at AND (attribute_not_exists(last_webhook_update) OR last_webhook_update < :at)',
          ExpressionAttributeValues: { ':at': iso, ':id': event.event_id, ':one': 1 },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const current = error.Item ? unmarshall(error.Item) : undefined;
      // A replay, or an event older than what the record holds: nothing to change (the general path
      // would find the same). No record yet, or only updated_at newer: the general path.
      const newer = typeof current?.last_webhook_update === 'string' && current.last_webhook_update >= iso;
      if (!newer) return super.apply(events, alsoWrite);
    }
    try {
      if (alsoWrite.Put) await this.client.send(new PutCommand(alsoWrite.Put));
      else if (alsoWrite.Update) await this.client.send(new UpdateCommand(alsoWrite.Update));
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        throw new LeaseLostError('the inbox lease was taken over while the record was touched');
      }
      throw error;
    }
    // The receiver does not read the records back.
    return [];
  }
}

/**
 * Proof, one step further: a data event's effect is idempotent, so it needs no lease either. Its inbox
 * item is written once, final, after the touch (a crash before that write answers 500 and Terra's retry
 * touches again, harmlessly); a replay touches nothing and rewrites the same item. Every other type
 * claims and completes exactly as `Inbox` does. Data events then cost two writes, as the floor does.
 */
export class DataWithoutLeaseInbox extends Inbox {
  private readonly pending = new Map<string, { facts: DeliveryFacts; nowMs: number }>();

  constructor(
    doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly settings: { leaseSeconds: number; ttlDays: number },
  ) {
    super(doc, tableName, settings);
  }

  override async claim(event_id: string, facts: DeliveryFacts, nowMs: number): Promise<Claim> {
    if (!DATA_TYPES.has(facts.type)) return super.claim(event_id, facts, nowMs);
    this.pending.set(event_id, { facts, nowMs });
    return { kind: 'claimed', token: `data:${randomUUID()}`, attempts: 1 };
  }

  override completion(event_id: string, token: string, status: FinalStatus, outcome: string): TransactItem {
    const held = this.pending.get(event_id);
    if (!token.startsWith('data:') || !held) return super.completion(event_id, token, status, outcome);
    this.pending.delete(event_id);
    const { facts, nowMs } = held;
    return {
      Put: {
        TableName: this.tableName,
        Item: {
          event_id,
          status,
          outcome,
          ...facts,
          received_at: new Date(nowMs).toISOString(),
          attempts: 1,
          expires_at: Math.floor(nowMs / 1000) + this.settings.ttlDays * 86_400,
        },
      },
    };
  }
}

/**
 * The connections table with its `byUserId` index projecting keys only: the index resolves a Terra user
 * to its reference_id and nothing more, so writes of other attributes no longer rewrite an index copy.
 */
export function keysOnlyConnectionsTable(name: string): CreateTableCommandInput {
  const input = connectionsTableInput(name);
  return {
    ...input,
    GlobalSecondaryIndexes: input.GlobalSecondaryIndexes?.map((index) => ({
      ...index,
      Projection: { ProjectionType: 'KEYS_ONLY' },
    })),
  };
}
