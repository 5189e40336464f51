import { createHash, createHmac } from 'node:crypto';

/**
 * Proof material, not production code: the smallest AWS Signature V4 (one request, header auth, payload
 * hashed up front) so a function can make its one S3 PUT or Secrets Manager call without bundling and
 * constructing a second SDK client. `npm run bench` checks it against `@smithy/signature-v4` (sigv4-check.ts).
 */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
}

export interface SignInput {
  service: string;
  region: string;
  method: string;
  url: URL;
  headers: Record<string, string>;
  body: string | Uint8Array;
  credentials: AwsCredentials;
  now?: Date;
}

const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

/** RFC 3986 encoding, as SigV4 canonical URIs want it. */
export const encodeRfc3986 = (value: string) =>
  encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** Returns the headers to send: the given ones plus host, date, payload hash, token and authorization. */
export function signRequest(input: SignInput): Record<string, string> {
  const { service, region, method, url, body, credentials } = input;
  const amzDate = (input.now ?? new Date()).toISOString().replace(/[:-]|\.\d{3}/g, '');
  const day = amzDate.slice(0, 8);
  const payloadHash = sha256(body);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.headers)) headers[name.toLowerCase()] = value.trim();
  headers.host = url.host;
  headers['x-amz-date'] = amzDate;
  headers['x-amz-content-sha256'] = payloadHash;
  if (credentials.sessionToken) headers['x-amz-security-token'] = credentials.sessionToken;
  const names = Object.keys(headers).sort();
  // S3 signs the path as sent; every other service wants each segment encoded once more.
  const path =
    service === 's3'
      ? url.pathname
      : url.pathname
          .split('/')
          .map((part) => encodeRfc3986(part))
          .join('/');
  const query = [...url.searchParams]
    .map(([key, value]) => `${encodeRfc3986(key)}=${encodeRfc3986(value)}`)
    .sort()
    .join('&');
  const canonical = [
    method,
    path || '/',
    query,
    names.map((name) => `${name}:${headers[name]}\n`).join(''),
    names.join(';'),
    payloadHash,
  ].join('\n');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  let key = hmac(`AWS4${credentials.secretAccessKey}`, day);
  for (const part of [region, service, 'aws4_request']) key = hmac(key, part);
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
  return headers;
}
