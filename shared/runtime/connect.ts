import { storeConfig } from '../config.ts';
import { CheckpointStore } from '../connections/checkpoints.ts';
import type { ConnectDeps } from '../connections/connect.ts';
import type { ReconcileDeps } from '../connections/reconcile.ts';
import { connectionStore, documentClient } from './store.ts';
import { terraDeps } from './terra.ts';

/** Terra and the connections table: the routes that read or change records. */
export function connectDeps(): ConnectDeps {
  return { ...terraDeps(), store: connectionStore() };
}

/** The scheduled reconcile: Terra, the connections table, and its checkpoint in the inbox table. */
export function reconcileDeps(): ReconcileDeps {
  const { terra, now, log } = terraDeps();
  return {
    terra,
    store: connectionStore(),
    checkpoints: new CheckpointStore(documentClient(), storeConfig().inboxTable),
    now,
    log,
  };
}
