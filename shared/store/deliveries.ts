import { randomUUID } from 'node:crypto';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { ConnectionEvent } from '#shared/connections/model';
import type { Claim, DeliveryFacts, DeliveryLedger, DeliveryStatus } from '#shared/webhooks/ports';
import { batchGetAll, isConditionFailure } from './conditions.ts';
import { type ConnectionStore, UnattributedError } from './connections.ts';
import { readDeletionJob } from './deletions.ts';
import { SdkClaimStore } from './sdk-claims.ts';
import { INBOX_KEYS, PARKED_SHARDS, parkedShard, RESERVED } from './tables.ts';

/**
 * The webhook inbox: one item per delivery id (docs/architecture.md, "Data model"). A delivery that
 * changes connections is claimed under a lease and closed in the same transaction as the records it
 * changes (docs/decisions/0003-inbox-leases.md); a data or informational delivery, whose effect is
 * idempotent, is recorded with one conditional put. Items that are not plainly processed carry
 * `attention` (their status), which puts them in the sparse `byAttention` index.
 */
export interface StoredDelivery extends Omit<DeliveryFacts, 'received_at'> {
  status: DeliveryStatus;
  received_at: string;
  attempts: number;
  outcome?: string;
  attention?: DeliveryStatus;
  lease_token?: string;
  lease_until?: number;
  replayed_at?: string;
  expires_at: number;
  /** A parked delivery's events (JSON), applied once its Terra user's owner is known. */
  parked_events?: string;
}

export class LeaseLostError extends Error {
  override name = 'LeaseLostError';
}

export class DeliveryStore implements DeliveryLedger {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly connections: ConnectionStore,
    private readonly options: { leaseSeconds: number; ttlDays: number; now: () => number },
  ) {}

  async get(event_id: string): Promise<StoredDelivery | undefined> {
    const result = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: { event_id }, ConsistentRead: true }),
    );
    return result.Item as StoredDelivery | undefined;
  }

  async status(event_id: string): Promise<DeliveryStatus | undefined> {
    return (await this.get(event_id))?.status;
  }

  async referenceDeleted(reference_id: string): Promise<boolean> {
    const job = await readDeletionJob(this.doc, this.table, reference_id);
    // Running counts too: what arrives during the deletion could land after its last sweep.
    return job?.status === 'running' || job?.status === 'done';
  }

  async sdkClaimed(reference_id: string): Promise<boolean> {
    return new SdkClaimStore(this.doc, this.table, this.options.now).live(reference_id);
  }

  async claim(facts: DeliveryFacts): Promise<Claim> {
    const token = randomUUID();
    const now = this.options.now();
    const { names, values, sets } = factsUpdate(facts);
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { event_id: facts.event_id },
          UpdateExpression: `SET #status = :received, attention = :received, lease_token = :token,
            lease_until = :until, received_at = if_not_exists(received_at, :now), expires_at = :ttl, ${sets}
            ADD attempts :one`,
          // A stale delivery (quarantined, never applied) may be taken by a valid copy or a replay; a failed
          // one by a copy that succeeds where it failed (an s3_payload whose other copy found the URL expired).
          ConditionExpression:
            'attribute_not_exists(event_id) OR #status IN (:stale, :failed) OR (#status = :received AND lease_until < :nowMs)',
          ExpressionAttributeNames: { '#status': 'status', ...names },
          ExpressionAttributeValues: {
            ':received': 'received',
            ':stale': 'stale',
            ':failed': 'failed',
            ':token': token,
            ':until': now + this.options.leaseSeconds * 1000,
            ':now': new Date(facts.received_at).toISOString(),
            ':nowMs': now,
            ':ttl': this.expiresAt(),
            ':one': 1,
            ...values,
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { kind: 'claimed', token };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const raw = (error as Error & { Item?: Parameters<typeof unmarshall>[0] }).Item;
      const existing = raw ? (unmarshall(raw) as StoredDelivery) : await this.get(facts.event_id);
      if (existing === undefined || existing.status === 'received') return { kind: 'in_progress' };
      return { kind: 'done', status: existing.status };
    }
  }

  async applyAndClose(
    facts: DeliveryFacts,
    token: string,
    events: readonly ConnectionEvent[],
  ): Promise<'applied' | 'lease_lost'> {
    const close = {
      Update: {
        TableName: this.table,
        Key: { event_id: facts.event_id },
        UpdateExpression:
          'SET #status = :processed, outcome = :outcome REMOVE lease_token, lease_until, attention',
        ConditionExpression: 'lease_token = :token',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':processed': 'processed', ':outcome': 'applied', ':token': token },
      },
    };
    try {
      await this.connections.applyTogether(events, {
        item: close,
        // A cancelled transaction is either a record race (retry) or our lease taken over (stop).
        stillHolds: async () =>
          (await this.get(facts.event_id))?.lease_token === token ? undefined : new LeaseLostError(),
      });
      return 'applied';
    } catch (error) {
      if (error instanceof LeaseLostError) return 'lease_lost';
      throw error;
    }
  }

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
      if (!isConditionFailure(error)) throw error;
    }
  }

  async record(
    facts: DeliveryFacts,
    status: 'processed' | 'ignored',
    outcome: string,
  ): Promise<'recorded' | 'duplicate'> {
    return this.putOnce(facts, status, outcome);
  }

  async park(
    facts: DeliveryFacts,
    events: readonly ConnectionEvent[],
    unowned: readonly string[],
  ): Promise<'parked' | 'duplicate' | 'attributed'> {
    try {
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: this.firstPut(facts, 'parked', 'unattributed', {
                parked_events: JSON.stringify(events),
              }),
            },
            ...unowned.flatMap((user_id) => [
              {
                Update: {
                  TableName: this.table,
                  Key: { event_id: RESERVED.parked(user_id, parkedShard(facts.event_id)) },
                  UpdateExpression: 'SET user_id = :user ADD ids :id',
                  ExpressionAttributeValues: { ':user': user_id, ':id': new Set([facts.event_id]) },
                },
              },
              // Parked only while nobody owns the user: an owner committed first is seen here, and an
              // owner committed later finds this delivery in the parked list (the drain reads it).
              {
                ConditionCheck: {
                  TableName: this.table,
                  Key: { event_id: RESERVED.owner(user_id) },
                  ConditionExpression: 'attribute_not_exists(event_id)',
                },
              },
            ]),
          ],
        }),
      );
      return 'parked';
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const reasons = error.CancellationReasons ?? [];
      if (reasons[0]?.Code === 'ConditionalCheckFailed') return 'duplicate';
      if (reasons.some((reason, i) => i % 2 === 0 && i > 0 && reason.Code === 'ConditionalCheckFailed'))
        return 'attributed';
      throw error;
    }
  }

  /**
   * Applies what was parked for a Terra user whose owner is now known, each delivery in one transaction
   * with its records (parked → processed, so its `terra.data` goes out then). Safe to repeat and to run
   * concurrently: a delivery leaves `parked` once. Answers how many it applied.
   */
  async drain(user_id: string): Promise<number> {
    const owner = await this.connections.owner(user_id);
    if (owner.state !== 'owned') return 0;
    const shards = await batchGetAll(
      this.doc,
      this.table,
      Array.from({ length: PARKED_SHARDS }, (_, shard) => ({ event_id: RESERVED.parked(user_id, shard) })),
    );
    const ids = shards
      .flatMap((item) => (item.ids instanceof Set ? [...(item.ids as Set<string>)] : []))
      .sort();
    let applied = 0;
    for (const event_id of ids) {
      const delivery = await this.get(event_id);
      if (delivery?.status === 'parked') {
        const events = JSON.parse(delivery.parked_events ?? '[]') as ConnectionEvent[];
        try {
          await this.connections.applyTogether(events, {
            // Processed now, under its owner: a data delivery's `terra.data` goes out from this write.
            item: {
              Update: {
                TableName: this.table,
                Key: { event_id },
                UpdateExpression:
                  'SET #status = :processed, outcome = :applied, reference_id = if_not_exists(reference_id, :owner) REMOVE attention, parked_events',
                ConditionExpression: '#status = :parked',
                ExpressionAttributeNames: { '#status': 'status' },
                ExpressionAttributeValues: {
                  ':processed': 'processed',
                  ':applied': 'applied',
                  ':parked': 'parked',
                  ':owner': owner.reference_id,
                },
              },
            },
            stillHolds: async () =>
              (await this.get(event_id))?.status === 'parked' ? undefined : new LeaseLostError(),
          });
          applied++;
        } catch (error) {
          // Another of its Terra users is still unowned (a reauth): it stays parked for that one.
          if (error instanceof UnattributedError) continue;
          if (!(error instanceof LeaseLostError)) throw error;
        }
      }
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { event_id: RESERVED.parked(user_id, parkedShard(event_id)) },
          UpdateExpression: 'DELETE ids :id',
          ExpressionAttributeValues: { ':id': new Set([event_id]) },
        }),
      );
    }
    return applied;
  }

  async recordStale(facts: DeliveryFacts): Promise<'recorded' | 'duplicate'> {
    return this.putOnce(facts, 'stale', 'outside_tolerance');
  }

  async recordFailed(facts: DeliveryFacts, outcome: string): Promise<'recorded' | 'duplicate'> {
    const { names, values, sets } = factsUpdate(facts);
    const now = this.options.now();
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { event_id: facts.event_id },
          UpdateExpression: `SET #status = :failed, attention = :failed, outcome = :outcome,
            received_at = if_not_exists(received_at, :now), expires_at = :ttl, ${sets} ADD attempts :one`,
          // A late copy whose payload URL has expired must not undo a copy that was processed (or is
          // being processed): failure is recorded only over nothing, a stale copy, a failure or a dead lease.
          ConditionExpression:
            'attribute_not_exists(event_id) OR #status IN (:stale, :failed) OR (#status = :received AND lease_until < :nowMs)',
          ExpressionAttributeNames: { '#status': 'status', ...names },
          ExpressionAttributeValues: {
            ':failed': 'failed',
            ':stale': 'stale',
            ':received': 'received',
            ':outcome': outcome,
            ':now': new Date(facts.received_at).toISOString(),
            ':nowMs': now,
            ':ttl': this.expiresAt(),
            ':one': 1,
            ...values,
          },
        }),
      );
      return 'recorded';
    } catch (error) {
      if (isConditionFailure(error)) return 'duplicate';
      throw error;
    }
  }

  /** One conditional put: the first copy of a delivery records it, any later copy is a duplicate. */
  private async putOnce(
    facts: DeliveryFacts,
    status: DeliveryStatus,
    outcome: string,
  ): Promise<'recorded' | 'duplicate'> {
    try {
      await this.doc.send(new PutCommand(this.firstPut(facts, status, outcome)));
      return 'recorded';
    } catch (error) {
      if (isConditionFailure(error)) return 'duplicate';
      throw error;
    }
  }

  /**
   * The conditional put that records a delivery for the first time: over nothing, or, unless it is stale
   * itself, over a stale copy (only kept, never applied: a valid copy or a replay takes its place) or a
   * failed one (one copy downloaded its payload, another did not).
   */
  private firstPut(
    facts: DeliveryFacts,
    status: DeliveryStatus,
    outcome: string,
    extra: Partial<StoredDelivery> = {},
  ) {
    const Item: StoredDelivery = {
      ...facts,
      status,
      outcome,
      received_at: new Date(facts.received_at).toISOString(),
      attempts: 1,
      expires_at: this.expiresAt(),
      ...(status === 'processed' ? {} : { attention: status }),
      ...extra,
    };
    return status === 'stale'
      ? { TableName: this.table, Item, ConditionExpression: 'attribute_not_exists(event_id)' }
      : {
          TableName: this.table,
          Item,
          ConditionExpression: 'attribute_not_exists(event_id) OR #status IN (:stale, :failed)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':stale': 'stale', ':failed': 'failed' },
        };
  }

  private expiresAt(): number {
    return Math.floor(this.options.now() / 1000) + this.options.ttlDays * 86_400;
  }
}

/** The delivery's facts as `SET` clauses (undefined ones left out), for the update-shaped writes. */
function factsUpdate(facts: DeliveryFacts) {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const clauses: string[] = [];
  for (const [name, value] of Object.entries(facts)) {
    if (name === INBOX_KEYS.partitionKey || name === 'received_at' || value === undefined) continue;
    names[`#f_${name}`] = name;
    values[`:f_${name}`] = value;
    clauses.push(`#f_${name} = :f_${name}`);
  }
  return { names, values, sets: clauses.join(', ') };
}
