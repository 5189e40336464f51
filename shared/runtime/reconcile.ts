import type { Env } from '#shared/config';
import type { ReconcileDeps } from '#shared/connections/reconcile';
import { logger } from '#shared/log';
import { CheckpointStore } from '#shared/store/checkpoints';
import { storeWiring } from './store.ts';
import { terraClient } from './terra.ts';

/** The scheduled reconcile: Terra, the connections table, and its checkpoint in the inbox table. */
export function reconcileDeps(env: Env): ReconcileDeps {
  const store = storeWiring(env);
  return {
    terra: terraClient(env),
    connections: store.connections,
    checkpoints: new CheckpointStore(store.doc, store.config.inboxTable),
    now: Date.now,
    log: logger,
  };
}
