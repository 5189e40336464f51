import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { toCommittedChange } from '#shared/aws/streams';
import type { Env } from '#shared/config';
import type { CommittedChange } from '#shared/events/outbox';
import { publishChanges } from '#shared/events/publisher';
import { publisherDeps } from '#shared/runtime/publisher';

/**
 * The outbox publisher: both tables' streams (one shard per batch, in order) → the app's events. A
 * failure stops at that record and reports it, so Lambda resumes the shard there (partial batch).
 */
export function publisherHandler(env: Env) {
  const deps = publisherDeps(env);
  return async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
    const records = event.Records.map((record) => ({
      record,
      change: toCommittedChange(record, deps.tables),
    }));
    const known = records.filter(
      (entry): entry is typeof entry & { change: CommittedChange } => entry.change !== undefined,
    );
    const failed = await publishChanges(
      deps,
      known.map((entry) => entry.change),
    );
    const at = failed === undefined ? undefined : known[failed]?.record.dynamodb?.SequenceNumber;
    return { batchItemFailures: at === undefined ? [] : [{ itemIdentifier: at }] };
  };
}
