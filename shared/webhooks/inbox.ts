import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { TransactItem } from '../connections/store.ts';

/**
 * The webhook inbox: one item per delivery id. `received` holds a lease while an attempt works on it;
 * `processed`, `ignored` and `failed` are final. A duplicate finds a final item and is a no-op; a
 * concurrent duplicate finds a live lease and does not apply; a crashed attempt's lease runs out and
 * Terra's retry takes the item over.
 */
export type InboxStatus = 'received' | 'processed' | 'ignored' | 'failed';
export type FinalStatus = Exclude<InboxStatus, 'received'>;

export interface InboxItem {
  event_id: string;
  status: InboxStatus;
  type?: string;
  user_id?: string;
  reference_id?: string;
  archive_key?: string;
  received_at: string;
  attempts: number;
  lease_token?: string;
  lease_until?: number;
  outcome?: string;
  expires_at: number;
}

export interface DeliveryFacts {
  type: string;
  archive_key: string;
  user_id?: string;
  reference_id?: string;
}

export type Claim =
  | { kind: 'claimed'; token: string; attempts: number }
  | { kind: 'done'; status: FinalStatus }
  | { kind: 'in_progress' };

export class Inbox {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly options: { leaseSeconds: number; ttlDays: number },
  ) {}

  async claim(event_id: string, facts: DeliveryFacts, nowMs: number): Promise<Claim> {
    const token = randomUUID();
    try {
      const result = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { event_id },
          UpdateExpression: `SET #status = :received, lease_token = :token, lease_until = :until, #type = :type,
            archive_key = :archive, received_at = if_not_exists(received_at, :now), expires_at = :ttl
            ${facts.user_id ? ', user_id = :uid' : ''}${facts.reference_id ? ', reference_id = :ref' : ''}
            ADD attempts :one`,
          ConditionExpression:
            'attribute_not_exists(event_id) OR (#status = :received AND lease_until < :nowMs)',
          ExpressionAttributeNames: { '#status': 'status', '#type': 'type' },
          ExpressionAttributeValues: {
            ':received': 'received',
            ':token': token,
            ':until': nowMs + this.options.leaseSeconds * 1000,
            ':type': facts.type,
            ':archive': facts.archive_key,
            ':now': new Date(nowMs).toISOString(),
            ':nowMs': nowMs,
            ':ttl': this.expiresAt(nowMs),
            ':one': 1,
            ...(facts.user_id ? { ':uid': facts.user_id } : {}),
            ...(facts.reference_id ? { ':ref': facts.reference_id } : {}),
          },
          ReturnValues: 'UPDATED_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { kind: 'claimed', token, attempts: Number(result.Attributes?.attempts ?? 1) };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const existing = error.Item ? (unmarshall(error.Item) as InboxItem) : await this.get(event_id);
      if (existing === undefined || existing.status === 'received') return { kind: 'in_progress' };
      return { kind: 'done', status: existing.status };
    }
  }

  /** The write that closes a claimed item; the store runs it in the same transaction as the records. */
  completion(event_id: string, token: string, status: FinalStatus, outcome: string): TransactItem {
    return {
      Update: {
        TableName: this.table,
        Key: { event_id },
        UpdateExpression: 'SET #status = :status, outcome = :outcome REMOVE lease_token, lease_until',
        ConditionExpression: 'lease_token = :token',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':status': status, ':outcome': outcome, ':token': token },
      },
    };
  }

  /** Gives the lease back after a failed attempt so Terra's retry need not wait for it to run out. */
  async release(event_id: string, token: string): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { event_id },
          UpdateExpression: 'SET lease_until = :zero REMOVE lease_token',
          ConditionExpression: 'lease_token = :token',
          ExpressionAttributeValues: { ':zero': 0, ':token': token },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  /** Records a delivery that can never be applied (malformed JSON under a valid signature). */
  async markFailed(event_id: string, facts: DeliveryFacts, outcome: string, nowMs: number): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { event_id },
        UpdateExpression: `SET #status = :failed, #type = :type, archive_key = :archive, outcome = :outcome,
          received_at = if_not_exists(received_at, :now), expires_at = :ttl ADD attempts :one`,
        ExpressionAttributeNames: { '#status': 'status', '#type': 'type' },
        ExpressionAttributeValues: {
          ':failed': 'failed',
          ':type': facts.type,
          ':archive': facts.archive_key,
          ':outcome': outcome,
          ':now': new Date(nowMs).toISOString(),
          ':ttl': this.expiresAt(nowMs),
          ':one': 1,
        },
      }),
    );
  }

  async get(event_id: string): Promise<InboxItem | undefined> {
    const result = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: { event_id }, ConsistentRead: true }),
    );
    return result.Item as InboxItem | undefined;
  }

  private expiresAt(nowMs: number): number {
    return Math.floor(nowMs / 1000) + this.options.ttlDays * 86_400;
  }
}
