import { type Env, SECTIONS } from '#shared/config';
import type { ConnectDeps } from '#shared/connections/flows';
import type { RouteContext } from '#shared/http/route';
import { logger } from '#shared/log';
import { storeWiring } from './store.ts';
import { terraDeps } from './terra.ts';

/** What every JWT route is built with. */
export function routeContext(env: Env): RouteContext {
  return { identityClaim: SECTIONS.identity.read(env).claim, log: logger };
}

/** Terra and the connections table: the routes and the callback that read or change records. */
export function connectDeps(env: Env): ConnectDeps & { publicApiUrl?: string | undefined } {
  return { ...terraDeps(env), connections: storeWiring(env).connections };
}
