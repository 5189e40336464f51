import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../aws/dynamo.ts';
import { storeConfig } from '../config.ts';
import type { ConnectDeps } from '../connections/connect.ts';
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
