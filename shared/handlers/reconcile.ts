import type { Context } from 'aws-lambda';
import type { Env } from '#shared/config';
import { reconcile } from '#shared/connections/reconcile';
import { logger } from '#shared/log';
import { reconcileDeps } from '#shared/runtime/reconcile';

/** The scheduled reconcile; a run that reaches the deadline checkpoints and the next run resumes it. */
export function reconcileHandler(env: Env) {
  const deps = reconcileDeps(env);
  return async (_event: unknown, context: Pick<Context, 'getRemainingTimeInMillis'>) => {
    const report = await reconcile(deps, { deadline: Date.now() + context.getRemainingTimeInMillis() });
    logger.info('reconcile', { ...report });
    return report;
  };
}
