/**
 * Downloads the payload behind an `s3_payload` notification: a pre-signed URL, valid for minutes, that
 * Terra hands us instead of a payload too large to send inline. Only allowlisted hosts, https only
 * (plain http on localhost when local mode allows it), no redirects, bounded in time and size and
 * checked as the bytes arrive, into one buffer sized up front.
 */
export type PayloadFailure =
  | 'expired'
  | 'forbidden'
  | 'not_found'
  | 'too_large'
  | 'not_allowed'
  | 'bad_status'
  | 'timeout'
  | 'unreachable'
  | 'server_error';

export type Fetched =
  | {
      ok: true;
      body: Buffer;
      /**
       * No length was declared, so a connection cut short reads like the end of the body: a body that
       * does not parse may be whole on the next attempt.
       */
      maybeTruncated?: true;
    }
  | { ok: false; retryable: boolean; reason: PayloadFailure };

export interface PayloadFetcher {
  fetch(url: string): Promise<Fetched>;
}

export interface PayloadFetchOptions {
  /** Host patterns; `*` stands for one DNS label or part of one (never a dot). */
  allowedHosts: readonly string[];
  allowLocalhost: boolean;
  maxBytes: number;
  timeoutMs: number;
  fetch?: typeof fetch;
}

const LOCALHOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

function hostPattern(pattern: string): RegExp {
  const escaped = pattern
    .toLowerCase()
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('[a-z0-9-]+');
  return new RegExp(`^${escaped}$`);
}

export function isAllowedPayloadUrl(
  raw: string,
  options: Pick<PayloadFetchOptions, 'allowedHosts' | 'allowLocalhost'>,
): boolean {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return false;
  }
  if (url.username || url.password) return false;
  const host = url.hostname.toLowerCase();
  if (options.allowLocalhost && LOCALHOSTS.has(host))
    return url.protocol === 'http:' || url.protocol === 'https:';
  if (url.protocol !== 'https:' || (url.port !== '' && url.port !== '443')) return false;
  return options.allowedHosts.some((pattern) => hostPattern(pattern).test(host));
}

const failure = (reason: PayloadFailure, retryable: boolean): Fetched => ({ ok: false, retryable, reason });

export function httpPayloadFetcher(options: PayloadFetchOptions): PayloadFetcher {
  const get = options.fetch ?? globalThis.fetch;
  return {
    async fetch(url) {
      if (!isAllowedPayloadUrl(url, options)) return failure('not_allowed', false);
      const signal = AbortSignal.timeout(options.timeoutMs);
      try {
        const response = await get(url, { redirect: 'manual', signal });
        if (response.status === 403) {
          // S3 answers 403 both for an expired signature and for a denied one; the body says which.
          const text = await response.text().catch(() => '');
          return failure(/expired/i.test(text) ? 'expired' : 'forbidden', false);
        }
        if (response.status === 404) return failure('not_found', false);
        if (response.status === 429 || response.status >= 500) return failure('server_error', true);
        if (response.status === 408) return failure('timeout', true);
        if (response.status === 400) {
          // S3 answers 400 RequestTimeout when it gave up on a slow connection: the next attempt may work.
          const text = await response.text().catch(() => '');
          return /<Code>RequestTimeout<\/Code>/.test(text)
            ? failure('timeout', true)
            : failure('bad_status', false);
        }
        if (response.status !== 200 || response.body === null) return failure('bad_status', false);
        const declared = Number(response.headers.get('content-length') ?? Number.NaN);
        // fetch decodes a Content-Encoding (S3 serves an object stored gzip-encoded as stored) while
        // content-length stays the encoded size: it then neither sizes nor bounds the decoded bytes.
        const encoding = (response.headers.get('content-encoding') ?? 'identity').trim().toLowerCase();
        const decoded = encoding !== '' && encoding !== 'identity';
        if (!decoded && declared > options.maxBytes) {
          await response.body.cancel().catch(() => undefined);
          return failure('too_large', false);
        }
        const fetched = await readBounded(
          response.body,
          Number.isFinite(declared) && !decoded ? declared : undefined,
          options.maxBytes,
        );
        // With a declared length a cut connection fails the read; without one it looks like the end.
        return fetched.ok && !Number.isFinite(declared) ? { ...fetched, maybeTruncated: true } : fetched;
      } catch (error) {
        const name = error instanceof Error ? error.name : '';
        if (name === 'TimeoutError' || name === 'AbortError') return failure('timeout', true);
        return failure('unreachable', true);
      }
    },
  };
}

async function readBounded(
  stream: ReadableStream<Uint8Array>,
  declared: number | undefined,
  maxBytes: number,
): Promise<Fetched> {
  const reader = stream.getReader();
  // With a declared length (S3 always sends one) the bytes go straight into their final buffer.
  let buffer = declared === undefined ? undefined : Buffer.allocUnsafe(declared);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > maxBytes || (buffer !== undefined && size > buffer.length)) {
      await reader.cancel().catch(() => undefined);
      return failure('too_large', false);
    }
    if (buffer) buffer.set(value, size - value.length);
    else chunks.push(value);
  }
  if (buffer && size !== buffer.length) return failure('unreachable', true);
  buffer ??= Buffer.concat(chunks, size);
  return { ok: true, body: buffer };
}
