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
import type { Owner } from '#shared/webhooks/ports';
import { toRequest } from './backfill.ts';
import { batchGetAll, type Item, isConditionFailure, jitter, MAX_ATTEMPTS } from './conditions.ts';
import { CONNECTIONS_KEYS, RESERVED } from './tables.ts';

export type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** A record as stored: the record, its plan (docs/architecture.md, "Backfill") and a version. */
type StoredRecord = ConnectionRecord & { version: number; backfill?: BackfillPlan };

export type StoredConnection =
  | { state: 'missing' }
  | { state: 'deleted' }
  | { state: 'live'; record: ConnectionRecord; version: number };

/** What touching a record with a data event found. */
export type Touch =
  | { state: 'touched' | 'unchanged'; record: ConnectionRecord }
  | { state: 'deleted' }
  | { state: 'missing' };

/**
 * An event that names no app user, for a Terra user no app user owns: it cannot become a record (no
 * record without an owner); the receiver parks its delivery instead.
 */
export class UnattributedError extends Error {
  override name = 'UnattributedError';
  constructor(readonly user_id: string) {
    super(`no app user owns Terra user ${user_id} yet`);
  }
}

/**
 * A guard with `deleted_at` is a tombstone: it keeps the owner and the requests it had only until the
 * deletion has removed what they point at (so a deletion that stops midway finds them again).
 */
export function toOwner(item: Item | undefined): Owner {
  if (item === undefined) return { state: 'missing' };
  if (item.deleted_at !== undefined) return { state: 'deleted', deleted_at: String(item.deleted_at) };
  if (typeof item.reference_id === 'string') return { state: 'owned', reference_id: item.reference_id };
  return { state: 'missing' };
}

/** The condition that a guard names a live owner (not a tombstone). */
export const OWNED = 'attribute_exists(reference_id) AND attribute_not_exists(deleted_at)';

/** A stored record → the record (its plan and version apart). */
export function toRecord(item: Item): { record: ConnectionRecord; version: number; plan?: BackfillPlan } {
  const { version, backfill, ...record } = item as unknown as StoredRecord;
  return { record: record as ConnectionRecord, version, ...(backfill ? { plan: backfill } : {}) };
}

/** Where a Terra user's record stands: its owner (if any) and the record under that owner. */
type Located =
  | { state: 'deleted' }
  | { state: 'missing'; owner?: string }
  | { state: 'live'; owner: string; item: Item; record: ConnectionRecord; version: number };

/**
 * The only code that knows the connections table (docs/decisions/0020-connections-keyed-by-app-user.md).
 * A record lives under its app user (`reference_id`, `user_id`); the owner guard in the inbox table says,
 * strongly consistent, which app user that is, and is written in the same transaction as the record it
 * guards, so one Terra user never has two records. Every change is "it was version N, it is now X" as one
 * conditional write (a transaction when the guard, several records, or the delivery move together); a lost
 * race re-reads and re-applies.
 */
export class ConnectionStore implements ConnectionRepository {
  readonly table: string;

  constructor(
    readonly doc: DynamoDBDocumentClient,
    readonly tables: { connectionsTable: string; inboxTable: string },
  ) {
    this.table = tables.connectionsTable;
  }

  /** The owner of each Terra user, strongly consistent (one batch read of the guards). */
  async owners(user_ids: readonly string[]): Promise<Map<string, Owner>> {
    const wanted = [...new Set(user_ids)];
    const items = await batchGetAll(
      this.doc,
      this.tables.inboxTable,
      wanted.map((user_id) => ({ event_id: RESERVED.owner(user_id) })),
    );
    const byId = new Map(items.map((item) => [String(item.user_id), item]));
    return new Map(wanted.map((user_id) => [user_id, toOwner(byId.get(user_id))]));
  }

  async owner(user_id: string): Promise<Owner> {
    const result = await this.doc.send(
      new GetCommand({
        TableName: this.tables.inboxTable,
        Key: { event_id: RESERVED.owner(user_id) },
        ConsistentRead: true,
      }),
    );
    return toOwner(result.Item);
  }

  private async item(reference_id: string, user_id: string): Promise<Item | undefined> {
    const result = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: { reference_id, user_id }, ConsistentRead: true }),
    );
    return result.Item;
  }

  /**
   * Finds a Terra user's record: the guard names its owner. With a `hint` (the reference a delivery
   * carries, nearly always the owner), the record is read alongside the guard, in the same round trip.
   */
  private async locate(user_id: string, hint?: string | null): Promise<Located> {
    const [owner, guess] = await Promise.all([
      this.owner(user_id),
      hint ? this.item(hint, user_id) : Promise.resolve(undefined),
    ]);
    if (owner.state === 'deleted') return { state: 'deleted' };
    if (owner.state === 'missing') return { state: 'missing' };
    const item = owner.reference_id === hint ? guess : await this.item(owner.reference_id, user_id);
    if (item === undefined) return { state: 'missing', owner: owner.reference_id };
    return { state: 'live', owner: owner.reference_id, item, ...toRecord(item) };
  }

  async read(user_id: string): Promise<StoredConnection> {
    const located = await this.locate(user_id);
    if (located.state === 'live') return { state: 'live', record: located.record, version: located.version };
    return { state: located.state };
  }

  async deleted(user_ids: readonly string[]): Promise<Set<string>> {
    const owners = await this.owners(user_ids);
    return new Set([...owners].filter(([, owner]) => owner.state === 'deleted').map(([user_id]) => user_id));
  }

  async get(user_id: string): Promise<ConnectionRecord | undefined> {
    const stored = await this.read(user_id);
    return stored.state === 'live' ? stored.record : undefined;
  }

  /** Every item of an app user's partition: one strongly consistent query (all pages). */
  private async partition(reference_id: string): Promise<Item[]> {
    const items: Item[] = [];
    let ExclusiveStartKey: Item | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: '#ref = :ref',
          ExpressionAttributeNames: { '#ref': CONNECTIONS_KEYS.partitionKey },
          ExpressionAttributeValues: { ':ref': reference_id },
          ConsistentRead: true,
          ExclusiveStartKey,
        }),
      );
      items.push(...(page.Items ?? []));
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    return items;
  }

  async listByReference(reference_id: string): Promise<ConnectionRecord[]> {
    return (await this.partition(reference_id)).map((item) => toRecord(item).record);
  }

  /**
   * An app user's records with their backfill plans (attributes of the records: the same query) and,
   * only for plans that asked Terra for something, those requests' progress (one batch read).
   */
  async listOwned(
    reference_id: string,
  ): Promise<{ records: ConnectionRecord[]; plans: BackfillPlan[]; requests: DataRequest[] }> {
    const stored = (await this.partition(reference_id)).map(toRecord);
    const plans = stored.flatMap(({ plan }) => (plan ? [plan] : []));
    const keys = plans.flatMap((plan) =>
      (plan.references ?? []).map((reference) => ({ event_id: RESERVED.request(plan.user_id, reference) })),
    );
    const requests =
      keys.length === 0
        ? []
        : (await batchGetAll(this.doc, this.tables.inboxTable, keys)).map((item) => toRequest(item));
    return { records: stored.map(({ record }) => record), plans, requests };
  }

  async scanPage(next?: string): Promise<{ records: ConnectionRecord[]; next?: string }> {
    const page = await this.doc.send(
      new ScanCommand({
        TableName: this.table,
        ExclusiveStartKey: next === undefined ? undefined : (JSON.parse(next) as Item),
        Limit: 200,
        ConsistentRead: true,
      }),
    );
    const records = (page.Items ?? []).map((item) => toRecord(item).record);
    return page.LastEvaluatedKey ? { records, next: JSON.stringify(page.LastEvaluatedKey) } : { records };
  }

  async apply(events: readonly ConnectionEvent[]): Promise<Array<ConnectionRecord | undefined>> {
    return this.applyTogether(events);
  }

  /**
   * Applies events in one atomic write, together with `alongside` (the delivery's closing write, for
   * the delivery store). `onConflict` decides, after a cancelled transaction, whether the write that
   * goes alongside still holds; when it does not, its error is thrown and nothing is retried. An event
   * that names no app user for a Terra user no one owns throws `UnattributedError`, and nothing is written.
   */
  async applyTogether(
    events: readonly ConnectionEvent[],
    alongside?: { item: TransactItem; stillHolds: () => Promise<Error | undefined> },
  ): Promise<Array<ConnectionRecord | undefined>> {
    for (let attempt = 1; ; attempt++) {
      const currents = await Promise.all(
        events.map((event) => this.locate(event.user_id, event.reference_id)),
      );
      const results: Array<ConnectionRecord | undefined> = [];
      const writes: TransactItem[] = [];
      for (const [i, event] of events.entries()) {
        const current = currents[i] ?? { state: 'missing' };
        // A deleted user stays deleted, whatever Terra still has in flight for it.
        if (current.state === 'deleted') {
          results.push(undefined);
          continue;
        }
        const before = current.state === 'live' ? current.record : undefined;
        const next = applyEvent(before, event);
        const owner = current.owner;
        // A data event sets no register, but the app user it names owns a Terra user nobody owns yet
        // (Terra signed it); a connection event with a reference, later, still decides.
        const reference_id = next.reference_id ?? owner ?? event.reference_id ?? undefined;
        if (reference_id === undefined) throw new UnattributedError(event.user_id);
        next.reference_id = reference_id;
        // Likewise the provider it names, for a record a data event creates; a connection event decides later.
        if (next.provider === undefined && event.provider !== undefined) next.provider = event.provider;
        results.push(next);
        if (current.state === 'live' && sameRecord(before, next)) continue;
        writes.push(...this.moves(current, { ...next, reference_id }));
      }
      try {
        await this.write(alongside ? [...writes, alongside.item] : writes);
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

  /** The writes that take a record from where it is to `next` (under `next.reference_id`). */
  private moves(
    current: Exclude<Located, { state: 'deleted' }>,
    next: ConnectionRecord & { reference_id: string },
  ): TransactItem[] {
    const guard = RESERVED.owner(next.user_id);
    const version = current.state === 'live' ? current.version : 0;
    const plan = current.state === 'live' ? current.item.backfill : undefined;
    const put: TransactItem = {
      Put: {
        TableName: this.table,
        Item: { ...next, version: version + 1, ...(plan ? { backfill: plan } : {}) },
        ...(current.state === 'live' && current.owner === next.reference_id
          ? {
              ConditionExpression: '#v = :v',
              ExpressionAttributeNames: { '#v': 'version' },
              ExpressionAttributeValues: { ':v': version },
            }
          : {
              ConditionExpression: 'attribute_not_exists(#uid)',
              ExpressionAttributeNames: { '#uid': CONNECTIONS_KEYS.sortKey },
            }),
      },
    };
    if (current.owner === undefined) {
      // A new Terra user: its record and its guard, together or not at all.
      return [
        put,
        {
          Put: {
            TableName: this.tables.inboxTable,
            Item: { event_id: guard, user_id: next.user_id, reference_id: next.reference_id },
            ConditionExpression: 'attribute_not_exists(event_id)',
          },
        },
      ];
    }
    if (current.owner === next.reference_id) return [put];
    // Terra named another app user, later than the current one: the record moves, and its guard with it.
    const writes: TransactItem[] = [
      put,
      {
        Update: {
          TableName: this.tables.inboxTable,
          Key: { event_id: guard },
          UpdateExpression: 'SET reference_id = :to',
          ConditionExpression: 'reference_id = :from AND attribute_not_exists(deleted_at)',
          ExpressionAttributeValues: { ':to': next.reference_id, ':from': current.owner },
        },
      },
    ];
    if (current.state === 'live') {
      writes.push({
        Delete: {
          TableName: this.table,
          Key: { reference_id: current.owner, user_id: next.user_id },
          ConditionExpression: '#v = :v',
          ExpressionAttributeNames: { '#v': 'version' },
          ExpressionAttributeValues: { ':v': version },
        },
      });
    }
    return writes;
  }

  /**
   * A data event's whole effect (it moves only `last_webhook_update`) as one blind conditional update
   * on the record under `reference_id` (the one the delivery names: Terra's normal case), with no read
   * first. Only when that finds nothing is the owner looked up. It answers the record, so the caller
   * learns the app user in the same round trip.
   */
  async touch(user_id: string, iso: string, reference_id?: string | null): Promise<Touch> {
    if (reference_id) {
      const touched = await this.touchAt(reference_id, user_id, iso);
      if (touched.state !== 'missing') return touched;
    }
    const owner = await this.owner(user_id);
    if (owner.state === 'deleted') return { state: 'deleted' };
    if (owner.state === 'missing' || owner.reference_id === reference_id) return { state: 'missing' };
    return this.touchAt(owner.reference_id, user_id, iso);
  }

  private async touchAt(reference_id: string, user_id: string, iso: string): Promise<Touch> {
    try {
      const result = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { reference_id, user_id },
          UpdateExpression: 'SET last_webhook_update = :t ADD version :one',
          ConditionExpression:
            'attribute_exists(#status) AND (attribute_not_exists(last_webhook_update) OR last_webhook_update < :t)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':t': iso, ':one': 1 },
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { state: 'touched', record: toRecord(result.Attributes ?? {}).record };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const item = (error as Error & { Item?: Parameters<typeof unmarshall>[0] }).Item;
      return item === undefined
        ? { state: 'missing' }
        : { state: 'unchanged', record: toRecord(unmarshall(item)).record };
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
