import type { Env } from '#shared/config';
import { route } from '#shared/http/route';
import { routeContext } from '#shared/runtime/route-context';
import { terraDeps } from '#shared/runtime/terra';

/** `GET /providers`: what can be connected, from Terra's catalogue (cached per container). */
export function listProvidersHandler(env: Env) {
  const deps = terraDeps(env, { redirects: false });
  return route(routeContext(env), {}, async () => ({
    status: 200,
    body: { providers: await deps.providers.list() },
  }));
}
