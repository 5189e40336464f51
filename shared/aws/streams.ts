import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import type { ItemChange } from '#shared/events/outbox';

type Image = Parameters<typeof unmarshall>[0];

/** A DynamoDB stream record (Lambda's or DynamoDB Streams' own) → one item's change, images unmarshalled. */
export function toItemChange(
  record: Pick<DynamoDBRecord, 'dynamodb' | 'eventSourceARN'>,
  tables: { connectionsTable: string; inboxTable: string },
): ItemChange | undefined {
  const table = tableOf(record.eventSourceARN ?? '', tables);
  if (table === undefined) return undefined;
  const change: ItemChange = { table };
  const { NewImage, OldImage } = record.dynamodb ?? {};
  if (NewImage) change.new = unmarshall(repaired(NewImage) as Image);
  if (OldImage) change.old = unmarshall(repaired(OldImage) as Image);
  return change;
}

/**
 * The DynamoDB Streams SDK client reads an empty map attribute (`{"M": {}}`) back as `{}`, which
 * `unmarshall` refuses; Lambda's own stream events are not affected. An attribute value with no type
 * can only be that empty map, so it is put back (empty lists, strings and the rest arrive intact).
 */
function repaired(image: Record<string, unknown>): Record<string, unknown> {
  const fix = (value: unknown): unknown => {
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) return { M: {} };
    const [[type, inner] = ['', undefined]] = entries;
    if (type === 'M') return { M: repaired(inner as Record<string, unknown>) };
    if (type === 'L') return { L: (inner as unknown[]).map(fix) };
    return value;
  };
  return Object.fromEntries(Object.entries(image).map(([name, value]) => [name, fix(value)]));
}

/** `arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>` → which of our tables. */
function tableOf(arn: string, tables: { connectionsTable: string; inboxTable: string }) {
  const name = /:table\/([^/]+)\/stream\//.exec(arn)?.[1];
  if (name === tables.connectionsTable) return 'connections' as const;
  if (name === tables.inboxTable) return 'inbox' as const;
  return undefined;
}
