import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Oversize } from './deliveries.ts';
import type { SandboxRequest } from './http.ts';
import { s3Payload } from './payloads.ts';
import type { Timers } from './timers.ts';

/**
 * Terra's `s3_payload`: a webhook body too large to send inline goes to a bucket, and the webhook carries a
 * presigned, time-limited URL to it instead (S3PayloadEvent in v2-bundled.yaml). The sandbox is its own
 * bucket: it keeps the body in memory, serves it at `/s3/payloads/<token>.json` until the URL expires, and
 * then answers as S3 does for an expired presigned URL (403 AccessDenied, "Request has expired").
 */
export const S3_PREFIX = '/s3/payloads/';

// Bodies live only until their URL expires; this also bounds memory under a long expiry and many big
// events. The oldest go first (their URLs then answer AccessDenied, as for a deleted object).
const MAX_STORED_BYTES = 256 * 1024 * 1024;

type Lookup =
  | { found: true; body: string }
  | { found: false; code: 'AccessDenied'; message: string; details?: Record<string, string> };

/** `20260701T091233Z`, the X-Amz-Date form. */
const amzDate = (date: Date): string =>
  date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');

function parseAmzDate(text: string | null): number | undefined {
  const match = /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/.exec(text ?? '');
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match;
  return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
}

export class PayloadStore {
  readonly #timers: Timers;
  // Signs the URLs, so an expiry cannot be extended by editing the query.
  readonly #key = randomBytes(32);
  // Insertion order is age, for eviction.
  readonly #bodies = new Map<string, string>();
  #bytes = 0;

  constructor(timers: Timers) {
    this.#timers = timers;
  }

  get size(): number {
    return this.#bodies.size;
  }

  /** Keeps `body` until `expiresSeconds` from now and answers the path and query of its presigned URL. */
  put(body: string, expiresSeconds: number, now: Date = new Date()): string {
    const token = randomBytes(16).toString('hex');
    this.#bodies.set(token, body);
    this.#bytes += Buffer.byteLength(body);
    while (this.#bytes > MAX_STORED_BYTES && this.#bodies.size > 1) {
      const oldest = this.#bodies.keys().next().value;
      if (oldest !== undefined) this.#drop(oldest);
    }
    // Cancelled by stop() with every other sandbox timer.
    this.#timers.schedule(expiresSeconds * 1000, () => this.#drop(token));
    const date = amzDate(now);
    const query = new URLSearchParams({
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
      'X-Amz-Date': date,
      'X-Amz-Expires': String(expiresSeconds),
      'X-Amz-Signature': this.#sign(token, date, String(expiresSeconds)),
    });
    return `${S3_PREFIX}${token}.json?${query}`;
  }

  /** What a GET of the URL finds: the body, or S3's reason for refusing. */
  lookup(url: URL, now: number = Date.now()): Lookup {
    const denied: Lookup = { found: false, code: 'AccessDenied', message: 'Access Denied' };
    const token = /^([0-9a-f]{32})\.json$/.exec(url.pathname.slice(S3_PREFIX.length))?.[1];
    const query = url.searchParams;
    const date = query.get('X-Amz-Date');
    const expires = query.get('X-Amz-Expires');
    const signature = query.get('X-Amz-Signature');
    if (!token || !date || !expires || !signature) return denied;
    const expected = Buffer.from(this.#sign(token, date, expires));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return denied;
    // S3 checks the expiry from the URL itself, before looking for the object.
    const signedAt = parseAmzDate(date) ?? 0;
    const expiresAt = signedAt + Number(expires) * 1000;
    if (now >= expiresAt) {
      return {
        found: false,
        code: 'AccessDenied',
        message: 'Request has expired',
        details: {
          'X-Amz-Expires': expires,
          Expires: new Date(expiresAt).toISOString(),
          ServerTime: new Date(now).toISOString(),
        },
      };
    }
    const body = this.#bodies.get(token);
    return body === undefined ? denied : { found: true, body };
  }

  #sign(token: string, date: string, expires: string): string {
    return createHmac('sha256', this.#key).update(`${token}\n${date}\n${expires}`).digest('hex');
  }

  #drop(token: string): void {
    const body = this.#bodies.get(token);
    if (body === undefined) return;
    this.#bodies.delete(token);
    this.#bytes -= Buffer.byteLength(body);
  }
}

/**
 * The Deliverer's oversize check: a body over the threshold is stored and replaced by an `s3_payload`
 * pointing at it. Settings are read per event, so a change applies to the next one.
 */
export function offloadToS3(
  store: PayloadStore,
  settings: () => { s3PayloadThresholdBytes: number | null; s3PayloadExpiresSeconds: number },
  baseUrl: () => string,
): Oversize {
  return (body) => {
    const { s3PayloadThresholdBytes: threshold, s3PayloadExpiresSeconds: expires } = settings();
    if (!threshold || Buffer.byteLength(body) <= threshold) return undefined;
    return s3Payload(`${baseUrl()}${store.put(body, expires)}`, expires);
  };
}

const xmlEscape = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function s3Error(lookup: Extract<Lookup, { found: false }>): string {
  const fields: Record<string, string> = {
    Code: lookup.code,
    Message: lookup.message,
    ...lookup.details,
    RequestId: randomBytes(8).toString('hex').toUpperCase(),
  };
  const inner = Object.entries(fields)
    .map(([name, value]) => `<${name}>${xmlEscape(value)}</${name}>`)
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error>${inner}</Error>`;
}

/** Serves `/s3/payloads/*`; answers false for other paths. */
export function handleS3(store: PayloadStore, request: SandboxRequest, response: ServerResponse): boolean {
  if (!request.url.pathname.startsWith(S3_PREFIX)) return false;
  const head = request.method === 'HEAD';
  const send = (status: number, contentType: string, text: string) => {
    response.writeHead(status, {
      'content-type': contentType,
      'content-length': String(Buffer.byteLength(text)),
    });
    response.end(head ? undefined : text);
  };
  if (request.method !== 'GET' && !head) {
    const text = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>MethodNotAllowed</Code><Message>The specified method is not allowed against this resource.</Message></Error>`;
    response.setHeader('allow', 'GET, HEAD');
    send(405, 'application/xml', text);
    return true;
  }
  const found = store.lookup(request.url);
  if (found.found) send(200, 'application/json', found.body);
  else send(403, 'application/xml', s3Error(found));
  return true;
}
