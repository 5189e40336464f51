import type { Env } from '#shared/config';
import { disconnect } from '#shared/connections/flows';
import { userIdPath } from '#shared/http/bodies';
import { route } from '#shared/http/route';
import { connectDeps } from '#shared/runtime/app-routes';
import { routeContext } from '#shared/runtime/route-context';

/** `DELETE /connections/{user_id}`: disconnects one of the caller's connections, at Terra and here. */
export function deleteConnectionHandler(env: Env) {
  const deps = connectDeps(env);
  return route(routeContext(env), { path: { user_id: userIdPath } }, async ({ caller, path }) => {
    await disconnect(deps, caller.referenceId, path.user_id);
    return { status: 204 };
  });
}
