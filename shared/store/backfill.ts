import {
  type DynamoDBDocumentClient,
  GetCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import {
  type BackfillPlan,
  type DataRequest,
  type RequestFacts,
  requestStatus,
} from '#shared/backfill/model';
import { type Item, isConditionFailure, jitter, MAX_ATTEMPTS } from './conditions.ts';
import { OWNED, toOwner } from './connections.ts';
import { RESERVED } from './tables.ts';

/**
 * Backfill plans and data requests (docs/decisions/0020). A plan is an attribute of its Terra user's
 * record (`backfill`), so `GET /connections` reads it with the records and a deletion of the record
 * takes it; data requests are items of the inbox table (`request#<user_id>#<reference>`), each counted
 * into its owner's guard (`requests`), so a deletion finds them by the guard.
 */
type StoredRequest = Omit<DataRequest, 'received'> & { event_id?: string; received?: Set<string> | string[] };

/** A request item as stored → the domain's shape (the received set as a sorted list). */
export function toRequest(item: Item): DataRequest {
  const { event_id: _id, received, ...rest } = item as StoredRequest;
  return { ...rest, received: [...(received ?? [])].sort() };
}

function toPlan(item: Item): BackfillPlan {
  const plan = item as unknown as BackfillPlan;
  return { ...plan, requested: [...(plan.requested ?? [])] };
}

export class BackfillStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tables: { connectionsTable: string; inboxTable: string },
    private readonly now: () => number = Date.now,
  ) {}

  /** The key of a Terra user's record, by its guard; undefined for a user nobody owns or a deleted one. */
  private async recordKey(user_id: string): Promise<{ reference_id: string; user_id: string } | undefined> {
    const result = await this.doc.send(
      new GetCommand({
        TableName: this.tables.inboxTable,
        Key: { event_id: RESERVED.owner(user_id) },
        ConsistentRead: true,
      }),
    );
    const owner = toOwner(result.Item);
    return owner.state === 'owned' ? { reference_id: owner.reference_id, user_id } : undefined;
  }

  /**
   * A plan change on the record, only while the record is there; the version moves too, so a concurrent
   * record write (read, then put by version) cannot lose it. Answers the record's attributes after (or,
   * when the condition failed, as they were), undefined when the record is gone.
   */
  private async updatePlan(
    user_id: string,
    update: {
      expression: string;
      condition: string;
      names?: Record<string, string>;
      values?: Record<string, unknown>;
    },
  ): Promise<{ ok: boolean; item?: Item } | undefined> {
    const Key = await this.recordKey(user_id);
    if (Key === undefined) return undefined;
    try {
      const result = await this.doc.send(
        new UpdateCommand({
          TableName: this.tables.connectionsTable,
          Key,
          UpdateExpression: `${update.expression} ADD version :one`,
          ConditionExpression: `attribute_exists(#status) AND ${update.condition}`,
          ExpressionAttributeNames: { '#status': 'status', ...update.names },
          ExpressionAttributeValues: { ':one': 1, ...update.values },
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { ok: true, ...(result.Attributes ? { item: result.Attributes } : {}) };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const raw = (error as Error & { Item?: Parameters<typeof unmarshall>[0] }).Item;
      return raw === undefined ? undefined : { ok: false, item: unmarshall(raw) };
    }
  }

  /**
   * Creates the plan unless the user has one (once per Terra user, however often the trigger repeats),
   * and only while the user's record is live: a deleted user gets no plan. Answers the plan that
   * stands, or undefined for a deleted user.
   */
  async claimPlan(plan: BackfillPlan): Promise<{ claimed: boolean; plan: BackfillPlan } | undefined> {
    const result = await this.updatePlan(plan.user_id, {
      expression: 'SET backfill = :plan',
      condition: 'attribute_not_exists(backfill)',
      values: { ':plan': plan },
    });
    const stored = result?.item?.backfill as Item | undefined;
    if (result === undefined || stored === undefined) return undefined;
    return { claimed: result.ok, plan: toPlan(stored) };
  }

  /** Notes a type as asked for, and the request that asks for it; the plan must still be there. */
  async planAsked(user_id: string, type: string, reference: string): Promise<void> {
    await this.updatePlan(user_id, {
      expression:
        'SET backfill.requested = list_append(backfill.requested, :type), backfill.#refs = list_append(if_not_exists(backfill.#refs, :empty), :ref)',
      condition: 'attribute_exists(backfill) AND NOT contains(backfill.requested, :name)',
      names: { '#refs': 'references' },
      values: { ':type': [type], ':name': type, ':empty': [], ':ref': [reference] },
    });
  }

  async planDone(user_id: string): Promise<void> {
    await this.updatePlan(user_id, {
      expression: 'SET backfill.#plan_status = :requested',
      condition: 'attribute_exists(backfill)',
      names: { '#plan_status': 'status' },
      values: { ':requested': 'requested' },
    });
  }

  private async getRequest(user_id: string, reference: string) {
    const result = await this.doc.send(
      new GetCommand({
        TableName: this.tables.inboxTable,
        Key: { event_id: RESERVED.request(user_id, reference) },
        ConsistentRead: true,
      }),
    );
    return result.Item;
  }

  /**
   * Records facts about a request and moves its status by `requestStatus`. Every write commutes (a set
   * add, `if_not_exists`, a fixed value), so payloads may arrive before we have recorded asking for them.
   * Nothing is written for a deleted user (undefined).
   */
  async track(user_id: string, reference: string, facts: RequestFacts): Promise<DataRequest | undefined> {
    // Every attribute through a placeholder: several of these names are DynamoDB reserved words.
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const n = (attribute: string) => {
      names[`#${attribute}`] = attribute;
      return `#${attribute}`;
    };
    const v = (key: string, value: unknown) => {
      values[`:${key}`] = value;
      return `:${key}`;
    };
    const keep = (attribute: string, key: string, value: unknown) =>
      `${n(attribute)} = if_not_exists(${n(attribute)}, ${v(key, value)})`;
    const sets = [
      `${n('user_id')} = ${v('user_id', user_id)}`,
      `${n('reference')} = ${v('reference', reference)}`,
      `${n('updated_at')} = ${v('now', new Date(this.now()).toISOString())}`,
    ];
    const adds: string[] = [];
    if (facts.asked) {
      sets.push(
        `${n('origin')} = ${v('origin', 'backfill')}`,
        `${n('from')} = ${v('from', facts.asked.from)}`,
        `${n('to')} = ${v('to', facts.asked.to)}`,
        `${n('requested_at')} = ${v('at', facts.asked.at)}`,
      );
      if (facts.asked.plain) sets.push(keep('expected', 'one', 1));
    } else sets.push(keep('origin', 'origin', 'external'));
    if (facts.data_type) sets.push(keep('data_type', 'type', facts.data_type));
    if (facts.reference_id) sets.push(keep('reference_id', 'ref', facts.reference_id));
    if (facts.large) sets.push(`${n('large')} = ${v('large', true)}`);
    // large_request_sending is Terra's count of the payloads, authoritative over our plain-request guess.
    if (facts.expected !== undefined) sets.push(`${n('expected')} = ${v('expected', facts.expected)}`);
    if (facts.failed)
      sets.push(`${n('status')} = ${v('failed', 'failed')}`, `${n('reason')} = ${v('reason', facts.failed)}`);
    if (facts.event_id) adds.push(`${n('received')} ${v('ids', new Set([facts.event_id]))}`);
    try {
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.tables.inboxTable,
                Key: { event_id: RESERVED.request(user_id, reference) },
                UpdateExpression: `SET ${sets.join(', ')}${adds.length ? ` ADD ${adds.join(', ')}` : ''}`,
                ExpressionAttributeNames: names,
                ExpressionAttributeValues: values,
              },
            },
            // Only while the user is owned (not deleted, not unknown); the guard lists the request, so
            // a deletion finds it.
            {
              Update: {
                TableName: this.tables.inboxTable,
                Key: { event_id: RESERVED.owner(user_id) },
                UpdateExpression: 'ADD requests :reference',
                ConditionExpression: OWNED,
                ExpressionAttributeValues: { ':reference': new Set([reference]) },
              },
            },
          ],
        }),
      );
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
    const item = await this.getRequest(user_id, reference);
    return item && this.settle(user_id, reference, toRequest(item));
  }

  /** Moves the stored status to what the facts say, as a conditional write that re-reads on a race. */
  private async settle(user_id: string, reference: string, request: DataRequest): Promise<DataRequest> {
    let current = request;
    for (let attempt = 1; ; attempt++) {
      const desired = requestStatus(current);
      if (desired === current.status) return current;
      try {
        const result = await this.doc.send(
          new UpdateCommand({
            TableName: this.tables.inboxTable,
            Key: { event_id: RESERVED.request(user_id, reference) },
            UpdateExpression: 'SET #status = :desired',
            ConditionExpression:
              current.status === undefined ? 'attribute_not_exists(#status)' : '#status = :current',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: {
              ':desired': desired,
              ...(current.status === undefined ? {} : { ':current': current.status }),
            },
            ReturnValues: 'ALL_NEW',
          }),
        );
        return toRequest(result.Attributes ?? {});
      } catch (error) {
        if (!isConditionFailure(error) || attempt >= MAX_ATTEMPTS) throw error;
        await jitter(attempt);
        current = toRequest((await this.getRequest(user_id, reference)) ?? {});
      }
    }
  }
}
