import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { S3Archive } from '#shared/store/s3-archive';
import { DirectoryArchive } from '#shared/webhooks/archive';
import type { ArchivePointer, DataDetail, TerraDataPayload } from './details.ts';

export type {
  ArchivePointer,
  BackfillDetail,
  ConnectionDetail,
  DataDetail,
  DataEnvelope,
  Envelope,
  EventEnvelope,
  TerraDataPayload,
  UserDeletedDetail,
} from './details.ts';

/**
 * For the app's consumers: the payload behind a `terra.data` event, whether it came inline (`data`) or
 * only as the archive pointer (the claim check, for payloads too large for EventBridge). A consumer
 * needs `s3:GetObject` on the archive's `users/*` (the stack's ConsumerPolicy) and nothing else.
 *
 *   import { payloadOf, fromS3 } from 'terra-connect/consumer';
 *   const payload = await payloadOf(event.detail, fromS3());
 */
export type ArchiveReader = (pointer: ArchivePointer) => Promise<Uint8Array | undefined>;

export async function payloadOf(detail: DataDetail, read: ArchiveReader): Promise<TerraDataPayload> {
  if (detail.data !== undefined) return asDataPayload(detail.data, `event ${detail.id}`);
  const bytes = await read(detail.archive);
  if (bytes === undefined)
    throw new Error(`archived payload ${detail.archive.key} is gone (expired or deleted)`);
  return asDataPayload(
    JSON.parse(Buffer.from(bytes).toString('utf8')),
    `archived payload ${detail.archive.key}`,
  );
}

/**
 * The type is earned, not asserted: the webhook only announces payloads that parsed as a data event
 * with a user, but an event can reach a consumer from elsewhere (a replay, a hand-written test event).
 */
function asDataPayload(value: unknown, what: string): TerraDataPayload {
  const record = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (
    record(value) &&
    typeof value.type === 'string' &&
    record(value.user) &&
    typeof value.user.user_id === 'string'
  )
    return value as TerraDataPayload;
  throw new Error(`${what} is not a Terra data payload: expected an object with "type" and "user.user_id"`);
}

/**
 * The archive in S3 (deployed stacks): `bucket` is the archive bucket's name. Reads through the store's
 * own S3 adapter, the one the backend's functions read with; `config` for a region or an endpoint.
 */
export function fromS3(config: S3ClientConfig = {}): ArchiveReader {
  const archives = new Map<string, S3Archive>();
  return ({ bucket, key }) => {
    const archive = archives.get(bucket) ?? new S3Archive(bucket, config);
    archives.set(bucket, archive);
    return archive.get(key);
  };
}

/** The archive in a directory (local mode): `bucket` is the directory, read as local mode writes it. */
export function fromDirectory(): ArchiveReader {
  return ({ bucket, key }) => new DirectoryArchive(bucket).get(key);
}
