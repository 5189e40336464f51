import type { Archive } from '../../shared/webhooks/archive.ts';
import { lambdaCredentials, lambdaRegion } from './aws-env.ts';
import { encodeRfc3986, signRequest } from './sigv4.ts';

/**
 * Proof: the archive's one PutObject as a signed HTTPS PUT instead of an S3Client. Same contract as
 * `shared/aws/s3-archive.ts`; what `npm run bench` measures is what leaving `@aws-sdk/client-s3` out of
 * the webhook bundle saves at import.
 */
export class S3Archive implements Archive {
  constructor(private readonly bucket: string) {}

  async put(key: string, body: Buffer): Promise<void> {
    const region = lambdaRegion();
    const path = key.split('/').map(encodeRfc3986).join('/');
    const url = new URL(`https://${this.bucket}.s3.${region}.amazonaws.com/${path}`);
    const headers = signRequest({
      service: 's3',
      region,
      method: 'PUT',
      url,
      headers: { 'content-type': 'application/json' },
      body,
      credentials: lambdaCredentials(),
    });
    const response = await fetch(url, {
      method: 'PUT',
      headers,
      body: new Uint8Array(body),
      signal: AbortSignal.timeout(3_000),
    });
    if (!response.ok) throw new Error(`S3 PutObject answered ${response.status}`);
  }
}
