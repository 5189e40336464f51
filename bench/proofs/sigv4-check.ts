import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Checksum, HttpRequest, SourceData } from '@smithy/types';
import { signRequest } from './sigv4.ts';

/**
 * The proofs' hand-made signer must sign exactly as the SDK does, or they prove nothing: both sign the
 * same S3 PUT and Secrets Manager call at the same instant and must produce the same Authorization.
 */
class Sha256 implements Checksum {
  private hash: Hash | Hmac;
  constructor(private readonly secret?: SourceData) {
    this.hash = this.fresh();
  }
  private fresh(): Hash | Hmac {
    if (this.secret === undefined) return createHash('sha256');
    return createHmac(
      'sha256',
      typeof this.secret === 'string' ? this.secret : Buffer.from(this.secret as Uint8Array),
    );
  }
  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    this.hash = this.fresh();
  }
}

export async function signerMatchesSdk(): Promise<boolean> {
  const credentials = {
    accessKeyId: 'AKIDEXAMPLE',
    secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
    sessionToken: 'token',
  };
  const now = new Date('2026-11-22T10:00:00Z');
  const cases: Array<{
    service: string;
    method: string;
    url: URL;
    headers: Record<string, string>;
    body: string;
  }> = [
    {
      service: 's3',
      method: 'PUT',
      url: new URL('https://bucket.s3.eu-west-1.amazonaws.com/raw/2026/11/22/sha256%253Aab.0123.json'),
      headers: { 'content-type': 'application/json' },
      body: '{"type":"activity"}',
    },
    {
      service: 'secretsmanager',
      method: 'POST',
      url: new URL('https://secretsmanager.eu-west-1.amazonaws.com/'),
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'secretsmanager.GetSecretValue',
      },
      body: '{"SecretId":"arn:aws:secretsmanager:eu-west-1:123456789012:secret:x"}',
    },
  ];
  for (const c of cases) {
    const sdk = new SignatureV4({
      service: c.service,
      region: 'eu-west-1',
      credentials,
      sha256: Sha256,
      uriEscapePath: c.service !== 's3',
    });
    const request: HttpRequest = {
      method: c.method,
      protocol: 'https:',
      hostname: c.url.hostname,
      path: c.url.pathname,
      query: {},
      headers: {
        host: c.url.host,
        ...c.headers,
        'x-amz-content-sha256': createHash('sha256').update(c.body).digest('hex'),
      },
      body: c.body,
    };
    const signed = await sdk.sign(request, { signingDate: now });
    const ours = signRequest({ ...c, region: 'eu-west-1', credentials, now });
    if (signed.headers.authorization !== ours.authorization) return false;
  }
  return true;
}
