import type { Env } from '#shared/config';
import { NotFound } from '#shared/errors';
import { route } from '#shared/http/route';
import { deletionView } from '#shared/privacy/deletion';
import { deletionReader } from '#shared/runtime/deletion';
import { routeContext } from '#shared/runtime/route-context';

/** `GET /me/deletion`: where the caller's latest deletion stands. */
export function getDeletionHandler(env: Env) {
  const jobs = deletionReader(env);
  return route(routeContext(env), {}, async ({ caller }) => {
    const job = await jobs.job(caller.referenceId);
    if (!job) throw new NotFound('There is no deletion of the caller; DELETE /me starts one.');
    return { status: 200, body: deletionView(job) };
  });
}
