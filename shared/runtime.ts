import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from './aws/dynamo.ts';
import { S3Archive } from './aws/s3-archive.ts';
import { archiveConfig, connectConfig, storeConfig, terraConfig, webhookConfig } from './config.ts';
import type { ConnectDeps } from './connections/connect.ts';
import { ProviderCatalogue } from './connections/providers.ts';
import { ConnectionStore } from './connections/store.ts';
import { logger } from './log.ts';
import { TerraClient } from './terra/client.ts';
import { type CredentialSource, fixedCredentials, secretCredentials } from './terra/credentials.ts';
import { type Archive, DirectoryArchive } from './webhooks/archive.ts';
import { Inbox } from './webhooks/inbox.ts';
import type { WebhookDeps } from './webhooks/receive.ts';

/**
 * The production wiring, built once per container from validated config. Handlers call these at import
 * time, so a missing setting fails the cold start with its name instead of failing a request later.
 */
let doc: DynamoDBDocumentClient | undefined;
function documentClient(): DynamoDBDocumentClient {
  doc ??= createDocumentClient(storeConfig());
  return doc;
}

export function connectionStore(): ConnectionStore {
  return new ConnectionStore(documentClient(), storeConfig().connectionsTable);
}

function archive(): Archive {
  const config = archiveConfig();
  return config.kind === 's3' ? new S3Archive(config.bucket) : new DirectoryArchive(config.dir);
}

function credentialSource(
  secret: { arn: string; maxAgeSeconds: number } | undefined,
  fromEnv: () => Parameters<typeof fixedCredentials>[0],
): CredentialSource {
  return secret ? secretCredentials(secret.arn, secret.maxAgeSeconds) : fixedCredentials(fromEnv());
}

export function webhookDeps(): WebhookDeps {
  const webhook = webhookConfig();
  const credentials = credentialSource(webhook.secret, () => ({
    devId: '',
    apiKey: '',
    signingSecrets: [...webhook.signingSecrets],
  }));
  return {
    signingSecrets: async () => (await credentials()).signingSecrets,
    toleranceSeconds: webhook.toleranceSeconds,
    archive: archive(),
    inbox: new Inbox(documentClient(), storeConfig().inboxTable, {
      leaseSeconds: webhook.leaseSeconds,
      ttlDays: webhook.inboxTtlDays,
    }),
    connections: connectionStore(),
    now: Date.now,
    log: logger,
  };
}

export function terraClient(): TerraClient {
  const config = terraConfig();
  const credentials = credentialSource(config.secret, () => ({
    devId: config.devId,
    apiKey: config.apiKey,
    signingSecrets: [],
  }));
  return new TerraClient({ ...config, credentials });
}

/** The connect flows' dependencies. The provider cache lives as long as the container. */
export function connectDeps(): ConnectDeps {
  const config = connectConfig();
  const terra = terraClient();
  return {
    terra,
    store: connectionStore(),
    providers: new ProviderCatalogue(terra, config.providersCacheSeconds * 1000),
    config,
    now: Date.now,
    log: logger,
  };
}
