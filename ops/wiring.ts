import { stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { DEFAULTS, SECTIONS } from '#shared/config';
import type { Log } from '#shared/log';
import type { ArchiveReader } from '#shared/operations/ports';
import { noSigningSecrets } from '#shared/operations/replay';
import { deletionDeps } from '#shared/runtime/deletion';
import { publisherDeps } from '#shared/runtime/publisher';
import { terraClient } from '#shared/runtime/terra';
import { archiveOf } from '#shared/runtime/webhook';
import { createDocumentClient } from '#shared/store/client';
import { ConnectionStore } from '#shared/store/connections';
import { DeletionStore } from '#shared/store/deletions';
import { DeliveryStore } from '#shared/store/deliveries';
import { OperationsStore, StreamBatchReader } from '#shared/store/operations';
import type { Archive } from '#shared/webhooks/archive';
import { httpPayloadFetcher } from '#shared/webhooks/payloads';
import type { WebhookDeps } from '#shared/webhooks/receive';
import { s3ObjectSize } from './aws.ts';
import { requireOf, type Target } from './target.ts';

/**
 * The operations' dependencies, built from the target's settings with the backend's own wiring
 * (shared/runtime) and stores (shared/store): the CLI adds no second way to reach a table.
 */
function directorySize(root: string) {
  const base = resolve(root);
  return async (key: string): Promise<number | undefined> => {
    const path = resolve(join(base, key));
    if (!path.startsWith(base + sep)) throw new Error('archive key escapes the archive directory');
    try {
      return (await stat(path)).size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  };
}

export interface Stores {
  reader: OperationsStore;
  connections: ConnectionStore;
  archive: Archive & ArchiveReader;
  tables: { connectionsTable: string; inboxTable: string };
  /** Deletes delivery records as a deletion's sweep does (a replay that finds a deleted person's). */
  deletions: Pick<DeletionStore, 'deleteDeliveries'>;
  receiver(log: Log): WebhookDeps;
  close(): void;
}

export function storesOf(target: Target): Stores {
  requireOf(target, 'store');
  const config = SECTIONS.store.read(target.env);
  const doc = createDocumentClient(config);
  const archiveConfig = SECTIONS.archive.read(target.env);
  const archive = archiveOf(archiveConfig);
  const size =
    archiveConfig.kind === 's3' ? s3ObjectSize(archiveConfig.bucket) : directorySize(archiveConfig.dir);
  const connections = new ConnectionStore(doc, config);
  const tables = { connectionsTable: config.connectionsTable, inboxTable: config.inboxTable };
  return {
    reader: new OperationsStore(doc, tables),
    connections,
    archive: Object.assign(archive, { size }),
    tables,
    deletions: new DeletionStore(doc, tables, {
      tombstoneDays: SECTIONS.deletion.read(target.env).tombstoneDays,
      now: Date.now,
    }),
    // The receiver as the webhook function wires it, from the stores, with no signing secret at all.
    receiver: (log) => ({
      signingSecrets: noSigningSecrets,
      toleranceSeconds: DEFAULTS.WEBHOOK_TOLERANCE_SECONDS,
      archive,
      deliveries: new DeliveryStore(doc, config.inboxTable, connections, {
        ...SECTIONS.inbox.read(target.env),
        now: Date.now,
      }),
      connections,
      payloads: httpPayloadFetcher(SECTIONS.payload.read(target.env)),
      now: Date.now,
      log,
    }),
    close: () => doc.destroy(),
  };
}

export async function terraOf(target: Target) {
  requireOf(target, 'terra');
  return terraClient(await target.terraEnv());
}

export async function deletionOf(target: Target, log: Log) {
  requireOf(target, 'store', 'terra');
  return { ...deletionDeps(await target.terraEnv()), log };
}

export function publisherOf(target: Target, log: Log) {
  requireOf(target, 'store', 'events');
  return { ...publisherDeps(target.env), log };
}

export function streamsOf(tables: { connectionsTable: string; inboxTable: string }) {
  return new StreamBatchReader(tables);
}
