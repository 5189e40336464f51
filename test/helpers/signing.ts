import { signPayload } from '#shared/terra/signature';

/** Headers for a delivery signed the way Terra signs it. */
export function signedHeaders(
  body: string | Buffer,
  options: { secret: string; timestamp?: number; traceId?: string; orderingMs?: number },
): Record<string, string> {
  const t = options.timestamp ?? Math.floor(Date.now() / 1000);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'terra-signature': `t=${t},v1=${signPayload(options.secret, t, body)}`,
  };
  if (options.traceId) headers['x-terra-trace-id'] = options.traceId;
  if (options.orderingMs !== undefined) headers['x-terra-ordering-timestamp'] = String(options.orderingMs);
  return headers;
}
