import type { Env } from '#shared/config';
import { startWidgetSession } from '#shared/connections/flows';
import { createSessionBody } from '#shared/http/bodies';
import { route } from '#shared/http/route';
import { routeContext } from '#shared/runtime/route-context';
import { terraDeps } from '#shared/runtime/terra';

/** `POST /sessions`: a Terra widget session for the caller. */
export function createSessionHandler(env: Env) {
  const deps = terraDeps(env);
  return route(routeContext(env), { body: createSessionBody }, async ({ caller, body, baseUrl }) => ({
    status: 201,
    body: await startWidgetSession(deps, caller.referenceId, deps.publicApiUrl ?? baseUrl, body),
  }));
}
