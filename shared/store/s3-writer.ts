import { Sha256 } from '@smithy/core/checksum';
import { HttpRequest } from '@smithy/core/protocols';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import type { ArchiveWriter } from '#shared/webhooks/archive';

/**
 * The webhook's archive writes (PUT, and DELETE for the rare delivery whose user was deleted as it was
 * written) without the S3 client, which cost about 14 ms of the webhook's cold start: the SDK's own
 * SigV4 signer (`@smithy/signature-v4`), the credentials and region of the DynamoDB client the function
 * already has (so they refresh as the SDK refreshes them), the SDK's HTTP handler, and a retry of what
 * S3 asks to retry. Standard and China regions, virtual-hosted style; the S3 client (`S3Archive`)
 * serves everything else (docs/decisions/0018-archive-writes-without-the-s3-client.md).
 */
const ATTEMPTS = 3;
const RETRY_STATUSES = new Set([429, 500, 502, 503, 504]);

/** SigV4 as S3 wants it (the path signed as sent, once encoded; no payload checksum). */
export function s3Signer(
  region: string,
  credentials: AwsCredentialIdentityProvider | { accessKeyId: string; secretAccessKey: string },
) {
  return new SignatureV4({
    service: 's3',
    region,
    credentials,
    sha256: Sha256,
    uriEscapePath: false,
    applyChecksum: false,
  });
}

export class S3WriteError extends Error {
  override name = 'S3WriteError';
}

export class S3Writer implements ArchiveWriter {
  private readonly handler: NodeHttpHandler;
  /** One signer per region, kept: it caches its signing key for the day, so a warm PUT derives none. */
  private signer?: { region: string; signer: SignatureV4 };

  constructor(
    private readonly bucket: string,
    private readonly aws: {
      region: () => Promise<string>;
      credentials: AwsCredentialIdentityProvider;
      /** An S3-compatible endpoint (AWS_ENDPOINT_URL_S3; an emulator), addressed path-style. */
      endpoint?: string;
    },
  ) {
    this.handler = new NodeHttpHandler({ connectionTimeout: 1_000, requestTimeout: 3_000 });
  }

  get location(): string {
    return this.bucket;
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    await this.send('PUT', key, body, {
      'content-type': 'application/json',
      'content-length': String(body.length),
    });
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) await this.send('DELETE', key);
  }

  private async send(
    method: 'PUT' | 'DELETE',
    key: string,
    body?: Uint8Array,
    headers: Record<string, string> = {},
  ) {
    const region = await this.aws.region();
    const path = `/${key.split('/').map(encodeURIComponent).join('/')}`;
    const target = this.aws.endpoint
      ? { ...splitEndpoint(this.aws.endpoint), path: `/${this.bucket}${path}` }
      : {
          protocol: 'https:',
          hostname: `${this.bucket}.s3.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`,
          port: undefined,
          path,
        };
    if (this.signer?.region !== region)
      this.signer = { region, signer: s3Signer(region, this.aws.credentials) };
    const { signer } = this.signer;
    for (let attempt = 1; ; attempt++) {
      const request = new HttpRequest({
        method,
        protocol: target.protocol,
        hostname: target.hostname,
        ...(target.port ? { port: target.port } : {}),
        path: target.path,
        headers: {
          host: target.port ? `${target.hostname}:${target.port}` : target.hostname,
          'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
          ...headers,
        },
        ...(body ? { body } : {}),
      });
      let status: number | undefined;
      try {
        const signed = await signer.sign(request);
        const { response } = await this.handler.handle(signed as HttpRequest);
        status = response.statusCode;
        // Drain the answer so the socket goes back to the pool.
        (response.body as NodeJS.ReadableStream | undefined)?.resume?.();
        if (status >= 200 && status < 300) return;
      } catch (error) {
        if (attempt >= ATTEMPTS) throw error;
      }
      if (status !== undefined && (!RETRY_STATUSES.has(status) || attempt >= ATTEMPTS)) {
        throw new S3WriteError(`S3 answered ${status} to ${method} of an archive object`);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 100 * 2 ** attempt));
    }
  }
}

function splitEndpoint(endpoint: string): { protocol: string; hostname: string; port: number | undefined } {
  const url = new URL(endpoint);
  return { protocol: url.protocol, hostname: url.hostname, port: url.port ? Number(url.port) : undefined };
}
