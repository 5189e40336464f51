import type { Context } from 'aws-lambda';
import { reconcile } from '#shared/connections/reconcile';
import { logger } from '#shared/log';
import { reconcileDeps } from '#shared/runtime/connect';

const deps = reconcileDeps();

// EventBridge schedule; a run that reaches the deadline checkpoints and the next run resumes it.
export const handler = async (_event: unknown, context: Pick<Context, 'getRemainingTimeInMillis'>) => {
  const report = await reconcile(deps, { deadline: Date.now() + context.getRemainingTimeInMillis() });
  logger.info('reconcile', { ...report });
  return report;
};
