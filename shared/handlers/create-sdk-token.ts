import type { Env } from '#shared/config';
import { mintSdkToken } from '#shared/connections/flows';
import { emptyBody } from '#shared/http/bodies';
import { route } from '#shared/http/route';
import { routeContext } from '#shared/runtime/route-context';
import { terraDeps } from '#shared/runtime/terra';

/** `POST /sdk-token`: a single-use token for the mobile SDK's initConnection. */
export function createSdkTokenHandler(env: Env) {
  const deps = terraDeps(env, { redirects: false });
  return route(routeContext(env), { body: emptyBody }, async () => ({
    status: 201,
    body: await mintSdkToken(deps),
  }));
}
