import { type Env, SECTIONS } from '#shared/config';
import type { RouteContext } from '#shared/http/route';
import { logger } from '#shared/log';

/** What every JWT route is built with. Its own module: a route that touches no table imports no store. */
export function routeContext(env: Env): RouteContext {
  return { identityClaim: SECTIONS.identity.read(env).claim, log: logger };
}
