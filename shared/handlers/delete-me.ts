import type { Env } from '#shared/config';
import { emptyBody } from '#shared/http/bodies';
import { route } from '#shared/http/route';
import { deletionView } from '#shared/privacy/deletion';
import type { DeletionQueue } from '#shared/privacy/worker';
import { deleteUser } from '#shared/privacy/worker';
import { deletionDeps } from '#shared/runtime/deletion';
import { routeContext } from '#shared/runtime/route-context';

/**
 * `DELETE /me`: the app's "delete my account". 204 when everything is gone inside the request; else
 * 202 with the deletion's id and status (`GET /me/deletion`), continued by the deletion worker.
 */
export function deleteMeHandler(env: Env, overrides: { queue?: DeletionQueue } = {}) {
  const deps = deletionDeps(env, overrides);
  return route(routeContext(env), { body: emptyBody }, async ({ caller }) => {
    const job = await deleteUser(deps, caller.referenceId, deps.now() + deps.budgetMs);
    if (job.status === 'done') return { status: 204 };
    const wait = job.sweep_after
      ? Math.max(1, Math.ceil((Date.parse(job.sweep_after) - deps.now()) / 1000))
      : 1;
    return {
      status: 202,
      body: deletionView(job),
      headers: { 'retry-after': String(wait), location: '/me/deletion' },
    };
  });
}
