import type { Env } from '#shared/config';
import { connectProvider } from '#shared/connections/flows';
import { createConnectionBody } from '#shared/http/bodies';
import { route } from '#shared/http/route';
import { connectDeps } from '#shared/runtime/app-routes';
import { routeContext } from '#shared/runtime/route-context';

/** `POST /connections`: a custom-UI login link for one provider, recorded as pending. */
export function createConnectionHandler(env: Env) {
  const deps = connectDeps(env);
  return route(routeContext(env), { body: createConnectionBody }, async ({ caller, body, baseUrl }) => ({
    status: 201,
    body: await connectProvider(deps, caller.referenceId, deps.publicApiUrl ?? baseUrl, body),
  }));
}
