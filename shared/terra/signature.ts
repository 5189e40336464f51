import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Terra's webhook signature: header `t=<unix seconds>,v1=<hex>[,v1=<hex>…]`, where
 * v1 = hex(HMAC-SHA256(secret, "<t>.<raw body>")). Shaped after stripe-node's verifier: parse by key,
 * compare in constant time, bound the timestamp both ways.
 * https://docs.tryterra.co/unified-api/integration-setup/setting-up-data-destinations/webhooks
 */
export type SignatureCheck =
  | { ok: true; timestamp: number }
  /** The HMAC matched, only the time is outside the window: authentic, but refused (and kept). */
  | { ok: false; reason: 'outside_tolerance'; timestamp: number }
  | { ok: false; reason: 'no_secret' | 'missing' | 'malformed' | 'no_v1' | 'mismatch' };

// Bounds the work a hostile header can cause; Terra sends one or two v1 values.
const MAX_HEADER_LENGTH = 2048;
const MAX_V1 = 8;
const HEX_SHA256 = /^[0-9a-f]{64}$/i;
const UNIX_SECONDS = /^\d{1,12}$/;

interface ParsedHeader {
  timestamp: string;
  v1: Buffer[];
}

function parseHeader(header: string): ParsedHeader | 'malformed' {
  if (header.length > MAX_HEADER_LENGTH) return 'malformed';
  let timestamp: string | undefined;
  const v1: Buffer[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 1) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') {
      if (timestamp !== undefined || !UNIX_SECONDS.test(value)) return 'malformed';
      timestamp = value;
    } else if (key === 'v1' && HEX_SHA256.test(value) && v1.length < MAX_V1) {
      v1.push(Buffer.from(value, 'hex'));
    }
    // Other schemes (v0, future ones) are ignored, as Terra's and Stripe's verifiers do.
  }
  return timestamp === undefined ? 'malformed' : { timestamp, v1 };
}

export function signPayload(secret: string, timestamp: number | string, rawBody: Buffer | string): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex');
}

export function verifySignature(options: {
  header: string | undefined;
  rawBody: Buffer;
  secrets: readonly string[];
  nowSeconds: number;
  toleranceSeconds: number;
}): SignatureCheck {
  const { header, rawBody, secrets, nowSeconds, toleranceSeconds } = options;
  // Fail closed: with no secret nothing can be verified, so nothing is accepted.
  if (secrets.length === 0 || secrets.some((secret) => secret.length === 0))
    return { ok: false, reason: 'no_secret' };
  if (header === undefined || header.trim() === '') return { ok: false, reason: 'missing' };
  const parsed = parseHeader(header);
  if (parsed === 'malformed') return { ok: false, reason: 'malformed' };
  if (parsed.v1.length === 0) return { ok: false, reason: 'no_v1' };

  // Every candidate is compared against every secret, with no early exit, so timing reveals nothing.
  let matched = false;
  for (const secret of secrets) {
    const expected = createHmac('sha256', secret).update(`${parsed.timestamp}.`).update(rawBody).digest();
    for (const candidate of parsed.v1) matched = timingSafeEqual(expected, candidate) || matched;
  }
  if (!matched) return { ok: false, reason: 'mismatch' };

  const timestamp = Number(parsed.timestamp);
  if (Math.abs(nowSeconds - timestamp) > toleranceSeconds)
    return { ok: false, reason: 'outside_tolerance', timestamp };
  return { ok: true, timestamp };
}
