import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import type { CommittedChange } from '#shared/events/outbox';
import { decodeChange, type StreamImages } from '#shared/store/stream-changes';

type Image = Record<string, AttributeValue>;

/**
 * A DynamoDB stream record (Lambda's or DynamoDB Streams' own) → what committed: its images unmarshalled
 * and read by the store's decoder. Undefined for a record of neither table.
 */
export function toCommittedChange(
  record: Pick<DynamoDBRecord, 'dynamodb' | 'eventSourceARN'>,
  tables: { connectionsTable: string; inboxTable: string },
): CommittedChange | undefined {
  const table = tableOf(record.eventSourceARN ?? '', tables);
  if (table === undefined) return undefined;
  const images: StreamImages = { table };
  const { NewImage, OldImage } = record.dynamodb ?? {};
  if (NewImage) images.new = unmarshall(repaired(NewImage as Image));
  if (OldImage) images.old = unmarshall(repaired(OldImage as Image));
  return decodeChange(images);
}

/**
 * The DynamoDB Streams SDK client reads an empty map attribute (`{"M": {}}`) back as `{}`, which
 * `unmarshall` refuses; Lambda's own stream events are not affected. An attribute value with no type
 * can only be that empty map, so it is put back (empty lists, strings and the rest arrive intact).
 */
function repaired(image: Image): Image {
  const fix = (value: AttributeValue): AttributeValue => {
    if (Object.keys(value).length === 0) return { M: {} };
    if (value.M) return { M: repaired(value.M) };
    if (value.L) return { L: value.L.map(fix) };
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
