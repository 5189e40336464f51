import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DirectoryArchive } from '#shared/webhooks/archive';
import type { ArchivePointer, DataDetail } from './bus-events.ts';

/**
 * For the app's consumers: the payload behind a `terra.data` event, whether it came inline (`data`) or
 * only as the archive pointer (the claim check, for payloads too large for EventBridge). A consumer
 * needs `s3:GetObject` on the archive's `users/*` (the stack's ConsumerPolicy) and nothing else.
 *
 *   import { payloadOf, fromS3 } from 'terra-connect/shared/events/consumer';
 *   const payload = await payloadOf(event.detail, fromS3());
 */
export type ArchiveReader = (pointer: ArchivePointer) => Promise<Uint8Array | undefined>;

export async function payloadOf(detail: DataDetail, read: ArchiveReader): Promise<unknown> {
  if (detail.data !== undefined) return detail.data;
  const bytes = await read(detail.archive);
  if (bytes === undefined)
    throw new Error(`archived payload ${detail.archive.key} is gone (expired or deleted)`);
  return JSON.parse(Buffer.from(bytes).toString('utf8'));
}

/** The archive in S3 (deployed stacks): `bucket` is the archive bucket's name. */
export function fromS3(client: S3Client = new S3Client({})): ArchiveReader {
  return async ({ bucket, key }) => {
    try {
      const result = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return result.Body ? await result.Body.transformToByteArray() : undefined;
    } catch (error) {
      if (error instanceof Error && error.name === 'NoSuchKey') return undefined;
      throw error;
    }
  };
}

/** The archive in a directory (local mode): `bucket` is the directory, read as local mode writes it. */
export function fromDirectory(): ArchiveReader {
  return ({ bucket, key }) => new DirectoryArchive(bucket).get(key);
}
