import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../aws/dynamo.ts';
import { storeConfig } from '../config.ts';
import { ConnectionStore } from '../connections/store.ts';

/** The connections table and its client, once per container; no Terra client comes with it. */
let doc: DynamoDBDocumentClient | undefined;
export function documentClient(): DynamoDBDocumentClient {
  doc ??= createDocumentClient(storeConfig());
  return doc;
}

export function connectionStore(): ConnectionStore {
  return new ConnectionStore(documentClient(), storeConfig().connectionsTable);
}
