import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type Env, SECTIONS, type StoreConfig } from '#shared/config';
import { createDocumentClient } from '#shared/store/client';
import { ConnectionStore } from '#shared/store/connections';
import { SdkClaimStore } from '#shared/store/sdk-claims';

/** The tables and their client, for one handler; no Terra client comes with it. */
export interface StoreWiring {
  config: StoreConfig;
  doc: DynamoDBDocumentClient;
  connections: ConnectionStore;
  /** Pending claims on SDK connections, in the inbox table (`sdk#<reference_id>`). */
  claims: SdkClaimStore;
}

export function storeWiring(env: Env): StoreWiring {
  const config = SECTIONS.store.read(env);
  const doc = createDocumentClient(config);
  return {
    config,
    doc,
    connections: new ConnectionStore(doc, config),
    claims: new SdkClaimStore(doc, config.inboxTable),
  };
}
