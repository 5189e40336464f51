import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { logger } from '#shared/log';
import { ConnectionStore } from '#shared/store/connections';
import { DeliveryStore } from '#shared/store/deliveries';
import { DirectoryArchive } from '#shared/webhooks/archive';
import type { PayloadFetcher } from '#shared/webhooks/payloads';
import type { WebhookDeps } from '#shared/webhooks/receive';
import type { TestTables } from './dynamo.ts';

/** A fetcher for tests that never download: `s3_payload` tests pass their own. */
export const noDownloads: PayloadFetcher = {
  fetch: async () => ({ ok: false, retryable: false, reason: 'not_allowed' }),
};

/** The receiver wired to the run's DynamoDB Local tables and a directory archive, as local mode wires it. */
export function receiverDeps(
  tables: TestTables,
  options: {
    secret: string;
    archiveDir: string;
    now?: () => number;
    leaseSeconds?: number;
    doc?: DynamoDBDocumentClient;
  },
  overrides: Partial<WebhookDeps> = {},
): WebhookDeps {
  const now = options.now ?? Date.now;
  const doc = options.doc ?? tables.doc;
  const connections = new ConnectionStore(doc, tables);
  return {
    signingSecrets: async () => [options.secret],
    toleranceSeconds: 300,
    archive: new DirectoryArchive(options.archiveDir),
    deliveries: new DeliveryStore(doc, tables.inboxTable, connections, {
      leaseSeconds: options.leaseSeconds ?? 15,
      ttlDays: 30,
      now,
    }),
    connections,
    payloads: noDownloads,
    now,
    log: logger,
    ...overrides,
  };
}
