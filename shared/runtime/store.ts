import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../aws/dynamo.ts';
import { storeConfig } from '../config.ts';
import { CheckpointStore } from '../connections/checkpoints.ts';
import type { ConnectDeps } from '../connections/connect.ts';
import type { ReconcileDeps } from '../connections/reconcile.ts';
import { ConnectionStore } from '../connections/store.ts';
import { terraDeps } from './terra.ts';

let doc: DynamoDBDocumentClient | undefined;
export function documentClient(): DynamoDBDocumentClient {
  doc ??= createDocumentClient(storeConfig());
  return doc;
}

export function connectionStore(): ConnectionStore {
  return new ConnectionStore(documentClient(), storeConfig().connectionsTable);
}

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
