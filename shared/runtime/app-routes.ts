import type { Env } from '#shared/config';
import type { ConnectDeps, ListDeps } from '#shared/connections/flows';
import { storeWiring } from './store.ts';
import { terraDeps } from './terra.ts';

/** Terra and the connections table: the routes and the callback that read or change records. */
export function connectDeps(env: Env): ConnectDeps & { publicApiUrl?: string | undefined } {
  return { ...terraDeps(env), connections: storeWiring(env).connections };
}

/** The same, with the caller's SDK claim for `GET /connections?refresh=true`. */
export function listDeps(env: Env): ListDeps {
  const store = storeWiring(env);
  return { ...terraDeps(env), connections: store.connections, claims: store.claims };
}
