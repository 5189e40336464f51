import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Archive } from '../webhooks/archive.ts';

export class S3Archive implements Archive {
  constructor(
    private readonly bucket: string,
    private readonly s3: S3Client = new S3Client({
      maxAttempts: 3,
      requestHandler: { connectionTimeout: 1_000, requestTimeout: 3_000, throwOnRequestTimeout: true },
    }),
  ) {}

  async put(key: string, body: Buffer): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: 'application/json' }),
    );
  }
}
