import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { Env } from '#shared/config';
import { logger } from '#shared/log';
import type { DeletionQueue } from '#shared/privacy/worker';
import { continueQueued } from '#shared/privacy/worker';
import { deletionDeps } from '#shared/runtime/deletion';

/** The deletion queue's consumer: each message is one more step of one app user's deletion. */
export function deletionWorkerHandler(env: Env, overrides: { queue?: DeletionQueue } = {}) {
  const deps = deletionDeps(env, overrides);
  return async (
    event: SQSEvent,
    context: Pick<Context, 'getRemainingTimeInMillis'>,
  ): Promise<SQSBatchResponse> => {
    const failures: SQSBatchResponse['batchItemFailures'] = [];
    for (const message of event.Records) {
      try {
        const step = JSON.parse(message.body) as { reference_id: string; deletion_id: string };
        const deadline = deps.now() + context.getRemainingTimeInMillis() - 10_000;
        const job = await continueQueued(deps, step, deadline);
        logger.info('deletion', { deletion_id: step.deletion_id, status: job?.status ?? 'gone' });
      } catch (error) {
        logger.warn('deletion', { outcome: 'retry', error: error instanceof Error ? error.name : 'unknown' });
        failures.push({ itemIdentifier: message.messageId });
      }
    }
    return { batchItemFailures: failures };
  };
}
