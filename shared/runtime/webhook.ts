import { type ArchiveConfig, type Env, SECTIONS } from '#shared/config';
import { logger } from '#shared/log';
import { DeliveryStore } from '#shared/store/deliveries';
import { S3Archive } from '#shared/store/s3-archive';
import { S3Writer } from '#shared/store/s3-writer';
import { credentialSource } from '#shared/terra/credentials';
import { type Archive, DirectoryArchive } from '#shared/webhooks/archive';
import { httpPayloadFetcher } from '#shared/webhooks/payloads';
import type { WebhookDeps } from '#shared/webhooks/receive';
import { storeWiring } from './store.ts';

export function archiveOf(config: ArchiveConfig): Archive {
  if (config.kind === 'dir') return new DirectoryArchive(config.dir);
  // An S3-compatible endpoint is addressed path-style, as emulators expect.
  return new S3Archive(
    config.bucket,
    config.endpoint ? { endpoint: config.endpoint, forcePathStyle: true } : {},
  );
}

/** The webhook receiver's wiring: secret, archive, payload downloads, inbox and store. */
export function webhookDeps(env: Env): WebhookDeps {
  const webhook = SECTIONS.webhook.read(env);
  const store = storeWiring(env);
  const credentials = credentialSource(webhook.secret, () => ({
    devId: '',
    apiKey: '',
    signingSecrets: [...webhook.signingSecrets],
  }));
  const archive = SECTIONS.archive.read(env);
  return {
    signingSecrets: async () => (await credentials()).signingSecrets,
    // The webhook only writes: signed by the SDK's signer with the DynamoDB client's credentials,
    // without loading the S3 client (docs/decisions/0018-…).
    archive:
      archive.kind === 's3'
        ? new S3Writer(archive.bucket, {
            region: store.doc.config.region,
            credentials: store.doc.config.credentials,
            ...(archive.endpoint ? { endpoint: archive.endpoint } : {}),
          })
        : new DirectoryArchive(archive.dir),
    deliveries: new DeliveryStore(store.doc, store.config.inboxTable, store.connections, {
      ...SECTIONS.inbox.read(env),
      now: Date.now,
    }),
    connections: store.connections,
    payloads: httpPayloadFetcher(SECTIONS.payload.read(env)),
    toleranceSeconds: webhook.toleranceSeconds,
    now: Date.now,
    log: logger,
  };
}
