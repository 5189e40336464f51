import type { Env } from '#shared/config';
import { mintSdkToken } from '#shared/connections/flows';
import { emptyBody } from '#shared/http/bodies';
import { route } from '#shared/http/route';
import { routeContext } from '#shared/runtime/route-context';
import { storeWiring } from '#shared/runtime/store';
import { terraDeps } from '#shared/runtime/terra';

/** `POST /sdk-token`: a single-use token for the mobile SDK's initConnection, claimed for the caller. */
export function createSdkTokenHandler(env: Env) {
  const deps = { ...terraDeps(env, { redirects: false }), claims: storeWiring(env).claims };
  return route(routeContext(env), { body: emptyBody }, async ({ caller }) => ({
    status: 201,
    body: await mintSdkToken(deps, caller.referenceId),
  }));
}
