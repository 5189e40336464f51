import type { Env } from '#shared/config';
import { listConnections } from '#shared/connections/flows';
import { listConnectionsQuery } from '#shared/http/bodies';
import { route } from '#shared/http/route';
import { listDeps } from '#shared/runtime/app-routes';
import { routeContext } from '#shared/runtime/route-context';

/** `GET /connections`: the caller's connections, optionally reconciled with Terra first. */
export function listConnectionsHandler(env: Env) {
  const deps = listDeps(env);
  return route(routeContext(env), { query: listConnectionsQuery }, async ({ caller, query }) => ({
    status: 200,
    body: await listConnections(deps, caller.referenceId, query),
  }));
}
