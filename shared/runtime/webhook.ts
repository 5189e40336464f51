import { S3Archive } from '../aws/s3-archive.ts';
import { archiveConfig, storeConfig, webhookConfig } from '../config.ts';
import { logger } from '../log.ts';
import { type Archive, DirectoryArchive } from '../webhooks/archive.ts';
import { Inbox } from '../webhooks/inbox.ts';
import type { WebhookDeps } from '../webhooks/receive.ts';
import { credentialSource } from './credentials.ts';
import { connectionStore, documentClient } from './store.ts';

function archive(): Archive {
  const config = archiveConfig();
  return config.kind === 's3' ? new S3Archive(config.bucket) : new DirectoryArchive(config.dir);
}

/** The webhook receiver's wiring: secret, archive, inbox and store. */
export function webhookDeps(): WebhookDeps {
  const webhook = webhookConfig();
  const credentials = credentialSource(webhook.secret, () => ({
    devId: '',
    apiKey: '',
    signingSecrets: [...webhook.signingSecrets],
  }));
  return {
    signingSecrets: async () => (await credentials()).signingSecrets,
    archive: archive(),
    inbox: new Inbox(documentClient(), storeConfig().inboxTable, {
      leaseSeconds: webhook.leaseSeconds,
      ttlDays: webhook.inboxTtlDays,
    }),
    connections: connectionStore(),
    toleranceSeconds: webhook.toleranceSeconds,
    now: Date.now,
    log: logger,
  };
}
