import type { Env } from '#shared/config';
import type { ConnectDeps } from '#shared/connections/flows';
import { storeWiring } from './store.ts';
import { terraDeps } from './terra.ts';

/** Terra and the connections table: the routes and the callback that read or change records. */
export function connectDeps(env: Env): ConnectDeps & { publicApiUrl?: string | undefined } {
  return { ...terraDeps(env), connections: storeWiring(env).connections };
}
