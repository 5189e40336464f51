import {
  type DynamoDBDocumentClient,
  GetCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import {
  type BackfillPlan,
  type DataRequest,
  type RequestFacts,
  requestStatus,
} from '#shared/backfill/model';
import { isConditionFailure, jitter, MAX_ATTEMPTS } from './conditions.ts';
import { RECORD_SK } from './tables.ts';

/**
 * Backfill plans and data requests, kept beside their Terra user's record in the connections table
 * (sort keys `backfill` and `backfill#<reference>`), so deleting a user's partition deletes them too and
 * the byReference index lists them with the records.
 */
export const PLAN_SK = 'backfill';
export const requestSk = (reference: string) => `backfill#${reference}`;
export const isBackfillSk = (sk: string) => sk === PLAN_SK || sk.startsWith('backfill#');

type StoredRequest = Omit<DataRequest, 'received'> & { sk: string; received?: Set<string> | string[] };

/** A request item as stored → the domain's shape (the received set as a sorted list). */
export function toRequest(item: Record<string, unknown>): DataRequest {
  const { sk: _sk, received, ...rest } = item as StoredRequest;
  return { ...rest, received: [...(received ?? [])].sort() };
}

export function toPlan(item: Record<string, unknown>): BackfillPlan {
  const { sk: _sk, ...plan } = item as unknown as BackfillPlan & { sk: string };
  return { ...plan, requested: [...(plan.requested ?? [])] };
}

export class BackfillStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Creates the plan unless the user has one (once per Terra user, however often the trigger repeats),
   * and only while the user's record is live: a deleted user gets no plan. Answers the plan that
   * stands, or undefined for a deleted user.
   */
  async claimPlan(plan: BackfillPlan): Promise<{ claimed: boolean; plan: BackfillPlan } | undefined> {
    try {
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.table,
                Item: { ...plan, sk: PLAN_SK },
                ConditionExpression: 'attribute_not_exists(sk)',
              },
            },
            this.whileLive(plan.user_id),
          ],
        }),
      );
      return { claimed: true, plan };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const existing = await this.get(plan.user_id, PLAN_SK);
      return existing ? { claimed: false, plan: toPlan(existing) } : undefined;
    }
  }

  /** Notes a type as asked for; the plan item must still be there (a deletion removes it). */
  async planAsked(user_id: string, type: string): Promise<void> {
    await this.doc
      .send(
        new UpdateCommand({
          TableName: this.table,
          Key: { user_id, sk: PLAN_SK },
          UpdateExpression: 'SET #requested = list_append(if_not_exists(#requested, :empty), :type)',
          ConditionExpression: 'attribute_exists(sk) AND NOT contains(#requested, :name)',
          ExpressionAttributeNames: { '#requested': 'requested' },
          ExpressionAttributeValues: { ':empty': [], ':type': [type], ':name': type },
        }),
      )
      .catch((error: unknown) => {
        if (!isConditionFailure(error)) throw error;
      });
  }

  async planDone(user_id: string): Promise<void> {
    await this.doc
      .send(
        new UpdateCommand({
          TableName: this.table,
          Key: { user_id, sk: PLAN_SK },
          UpdateExpression: 'SET #status = :requested',
          ConditionExpression: 'attribute_exists(sk)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':requested': 'requested' },
        }),
      )
      .catch((error: unknown) => {
        if (!isConditionFailure(error)) throw error;
      });
  }

  /** A condition that holds only while the user's connection record is live (not deleted). */
  private whileLive(user_id: string) {
    return {
      ConditionCheck: {
        TableName: this.table,
        Key: { user_id, sk: RECORD_SK },
        ConditionExpression: 'attribute_exists(#status)',
        ExpressionAttributeNames: { '#status': 'status' },
      },
    };
  }

  private async get(user_id: string, sk: string): Promise<Record<string, unknown> | undefined> {
    const result = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: { user_id, sk }, ConsistentRead: true }),
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
                TableName: this.table,
                Key: { user_id, sk: requestSk(reference) },
                UpdateExpression: `SET ${sets.join(', ')}${adds.length ? ` ADD ${adds.join(', ')}` : ''}`,
                ExpressionAttributeNames: names,
                ExpressionAttributeValues: values,
              },
            },
            this.whileLive(user_id),
          ],
        }),
      );
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
    const item = await this.get(user_id, requestSk(reference));
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
            TableName: this.table,
            Key: { user_id, sk: requestSk(reference) },
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
        const fresh = await this.doc.send(
          new GetCommand({
            TableName: this.table,
            Key: { user_id, sk: requestSk(reference) },
            ConsistentRead: true,
          }),
        );
        current = toRequest(fresh.Item ?? {});
      }
    }
  }
}
