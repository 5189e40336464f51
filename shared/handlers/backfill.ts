import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { toCommittedChange } from '#shared/aws/streams';
import { startBackfill } from '#shared/backfill/start';
import { type Env, SECTIONS } from '#shared/config';
import { outboxActions } from '#shared/events/outbox';
import { logger } from '#shared/log';
import { backfillDeps } from '#shared/runtime/backfill';

/**
 * Backfill on connect, off the webhook's path: the connections stream (filtered to active records) →
 * Terra's data endpoints. A rate limit or an outage fails the record, which Lambda retries; the plan
 * resumes where it stopped.
 */
export function backfillHandler(env: Env) {
  const deps = backfillDeps(env);
  const tables = SECTIONS.store.read(env);
  return async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
    for (const record of event.Records) {
      const change = toCommittedChange(record, tables);
      try {
        for (const action of change ? outboxActions(change) : []) {
          if (action.kind !== 'backfill_start') continue;
          const { user_id, reference_id } = action.record;
          const outcome = await startBackfill(deps, { user_id, reference_id });
          logger.info('backfill', { user_id, outcome });
        }
      } catch (error) {
        logger.warn('backfill', { outcome: 'retry', error: error instanceof Error ? error.name : 'unknown' });
        const at = record.dynamodb?.SequenceNumber;
        return { batchItemFailures: at === undefined ? [] : [{ itemIdentifier: at }] };
      }
    }
    return { batchItemFailures: [] };
  };
}
