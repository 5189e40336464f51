import type { TerraPort } from '#shared/connections/ports';
import { DomainError } from '#shared/errors';
import type { Log } from '#shared/log';
import { type BackfillPlan, backfillWindow, type DataRequest, type RequestFacts } from './model.ts';

/**
 * Asks Terra for a new connection's history, once per Terra user however often the trigger repeats
 * (the plan item is claimed with a conditional write), off the webhook's path (a change stream starts
 * it). Terra answers each request with a `reference` that its payloads will carry. A rate limit or an
 * outage is thrown, so the caller retries later and the plan resumes with the types not yet asked for;
 * a request Terra refuses for good is recorded as failed.
 */
export interface BackfillDeps {
  terra: Pick<TerraPort, 'requestData'>;
  plans: {
    claimPlan(plan: BackfillPlan): Promise<{ claimed: boolean; plan: BackfillPlan } | undefined>;
    /** Notes a type as asked for, under Terra's request reference (the plan lists its requests). */
    planAsked(user_id: string, type: string, reference: string): Promise<void>;
    planDone(user_id: string): Promise<void>;
    track(user_id: string, reference: string, facts: RequestFacts): Promise<DataRequest | undefined>;
  };
  days: number;
  types: readonly string[];
  now: () => number;
  log: Log;
}

export type BackfillOutcome = 'started' | 'resumed' | 'already' | 'off' | 'deleted';

/** Terra did not answer, or asked us to slow down: worth asking again later. */
function retryable(error: unknown): boolean {
  if (!(error instanceof DomainError)) return true;
  const status = (error as DomainError & { terraStatus?: number }).terraStatus;
  return error.kind === 'upstream_timeout' || status === undefined || status === 429 || status >= 500;
}

export async function startBackfill(
  deps: BackfillDeps,
  user: { user_id: string; reference_id?: string | undefined },
): Promise<BackfillOutcome> {
  if (deps.days <= 0 || deps.types.length === 0) return 'off';
  const { from, to } = backfillWindow(deps.now(), deps.days);
  const claim = await deps.plans.claimPlan({
    user_id: user.user_id,
    ...(user.reference_id ? { reference_id: user.reference_id } : {}),
    status: 'requesting',
    from,
    to,
    types: [...deps.types],
    requested: [],
    created_at: new Date(deps.now()).toISOString(),
  });
  if (claim === undefined) return 'deleted';
  const { plan } = claim;
  if (plan.status === 'requested') return 'already';
  for (const type of plan.types.filter((name) => !plan.requested.includes(name))) {
    const asked = { from: plan.from, to: plan.to, at: new Date(deps.now()).toISOString() };
    const owner = plan.reference_id ? { reference_id: plan.reference_id } : {};
    let asReference = `failed:${type}`;
    try {
      const { reference, large } = await deps.terra.requestData({
        type,
        user_id: plan.user_id,
        start_date: plan.from,
        end_date: plan.to,
      });
      asReference = reference;
      await deps.plans.track(plan.user_id, reference, {
        asked: { ...asked, plain: !large },
        data_type: type,
        ...owner,
      });
    } catch (error) {
      if (retryable(error)) throw error;
      const reason = error instanceof Error ? error.message : 'refused';
      deps.log.warn('backfill request refused', {
        user_id: plan.user_id,
        type,
        error: (error as Error).name,
      });
      await deps.plans.track(plan.user_id, asReference, {
        asked: { ...asked, plain: true },
        data_type: type,
        failed: reason.slice(0, 300),
        ...owner,
      });
    }
    await deps.plans.planAsked(plan.user_id, type, asReference);
  }
  await deps.plans.planDone(plan.user_id);
  return claim.claimed ? 'started' : 'resumed';
}
