import { createHash } from 'node:crypto';
import { type ConnectionStore, LeaseLostError } from '../connections/store.ts';
import type { Log } from '../log.ts';
import { type ParsedWebhook, parseWebhook } from '../terra/events.ts';
import { verifySignature } from '../terra/signature.ts';
import { type Archive, archiveKey } from './archive.ts';
import type { DeliveryFacts, Inbox } from './inbox.ts';

/**
 * The receiver, in the order DESIGN §3 fixes: verify the raw bytes → archive them → dedupe through the
 * inbox → apply → answer. 401 writes nothing; our own failures answer 500 so Terra retries, and every
 * step is safe to repeat, so the retry repairs whatever a failed attempt left.
 */
export interface WebhookDeps {
  /** Resolved per delivery (a cached secret in AWS); a failure to read it is ours: 500, nothing written. */
  signingSecrets: () => Promise<readonly string[]>;
  toleranceSeconds: number;
  archive: Archive;
  inbox: Inbox;
  connections: ConnectionStore;
  now: () => number;
  log: Log;
  /** Test seam for crash injection between steps; never set in production code paths. */
  afterStep?: (step: 'archive' | 'claim') => Promise<void> | void;
}

export interface Delivery {
  /** Lower-cased header names. */
  headers: Readonly<Record<string, string>>;
  body: Buffer;
}

export type Outcome =
  | 'processed'
  | 'duplicate'
  | 'ignored'
  | 'rejected'
  | 'malformed'
  | 'in_progress'
  | 'error';

export interface WebhookResult {
  status: number;
  outcome: Outcome;
  event_id?: string;
  body: Record<string, unknown>;
}

const TRACE_ID = /^[\x21-\x7e]{1,200}$/;
const IN_PROGRESS_POLLS = 15;
const IN_PROGRESS_POLL_MS = 100;

/** `x-terra-ordering-timestamp` as epoch ms; accepts epoch s/ms/µs/ns or ISO-8601, else undefined. */
export function parseOrderingTimestamp(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) {
    const n = Number(text);
    if (n < 1e11) return Math.round(n * 1000);
    if (n < 1e14) return Math.round(n);
    if (n < 1e17) return Math.round(n / 1000);
    return Math.round(n / 1e6);
  }
  const parsed = Date.parse(text);
  return Number.isNaN(parsed) ? undefined : parsed;
}

function decodeJson(body: Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body)) };
  } catch {
    return { ok: false };
  }
}

function factsOf(parsed: ParsedWebhook, archive_key: string): DeliveryFacts {
  const facts: DeliveryFacts = { type: parsed.type, archive_key };
  const first = parsed.kind === 'events' ? parsed.events[0] : undefined;
  if (first) facts.user_id = first.user_id;
  const reference = first?.reference_id ?? (parsed.kind === 'ignored' ? parsed.reference_id : undefined);
  if (reference) facts.reference_id = reference;
  return facts;
}

const answer = (status: number, outcome: Outcome, event_id?: string, message?: string): WebhookResult => {
  const id = event_id ? { event_id } : {};
  const body =
    status >= 400
      ? { error: { code: outcome, message: message ?? outcome } }
      : { received: true, outcome, ...id };
  return { status, outcome, body, ...id };
};

export async function receiveWebhook(deps: WebhookDeps, delivery: Delivery): Promise<WebhookResult> {
  const { headers, body } = delivery;
  const receivedAt = deps.now();

  // 1. Signature over the exact bytes, before anything is parsed or written.
  let secrets: readonly string[];
  try {
    secrets = await deps.signingSecrets();
  } catch (error) {
    deps.log.error('webhook signing secret unavailable', { outcome: 'error', error: (error as Error).name });
    return answer(500, 'error', undefined, 'The signing secret could not be read; Terra will retry.');
  }
  const check = verifySignature({
    header: headers['terra-signature'] ?? headers['x-terra-signature'],
    rawBody: body,
    secrets,
    nowSeconds: Math.floor(receivedAt / 1000),
    toleranceSeconds: deps.toleranceSeconds,
  });
  if (!check.ok) {
    deps.log.warn('webhook rejected', { outcome: 'rejected', reason: check.reason });
    return answer(401, 'rejected', undefined, `Invalid webhook signature (${check.reason}).`);
  }

  const sha256 = createHash('sha256').update(body).digest('hex');
  const traceId = headers['x-terra-trace-id']?.trim();
  const event_id = traceId && TRACE_ID.test(traceId) ? traceId : `sha256:${sha256}`;
  const at = parseOrderingTimestamp(headers['x-terra-ordering-timestamp']) ?? check.timestamp * 1000;
  const key = archiveKey(event_id, sha256, receivedAt);
  const log = (outcome: Outcome, extra: Record<string, unknown> = {}) =>
    deps.log.info('webhook', { event_id, outcome, duration_ms: deps.now() - receivedAt, ...extra });

  let token: string | undefined;
  try {
    // 2. Archive before acknowledging anything.
    await deps.archive.put(key, body);
    await deps.afterStep?.('archive');

    // 3. Parse; malformed JSON under a valid signature is kept (archived) and marked failed.
    const json = decodeJson(body);
    if (!json.ok) {
      await deps.inbox.markFailed(
        event_id,
        { type: 'malformed', archive_key: key },
        'malformed_json',
        receivedAt,
      );
      log('malformed');
      return answer(400, 'malformed', event_id, 'The body is not valid JSON.');
    }
    const parsed = parseWebhook(json.value, { event_id, at });
    const facts = factsOf(parsed, key);
    const logged = { type: parsed.type, user_id: facts.user_id };

    // 4. Dedupe: claim the inbox item under a lease.
    let claim = await deps.inbox.claim(event_id, facts, receivedAt);
    for (let poll = 0; claim.kind === 'in_progress' && poll < IN_PROGRESS_POLLS; poll++) {
      // A concurrent copy is being applied right now; wait briefly for its verdict instead of applying twice.
      await new Promise((resolve) => setTimeout(resolve, IN_PROGRESS_POLL_MS));
      const item = await deps.inbox.get(event_id);
      if (item && item.status !== 'received') claim = { kind: 'done', status: item.status };
    }
    if (claim.kind === 'in_progress') {
      log('in_progress', logged);
      return answer(503, 'in_progress', event_id, 'This delivery is being processed; retry later.');
    }
    if (claim.kind === 'done') {
      log('duplicate', { ...logged, previous: claim.status });
      if (claim.status === 'failed')
        return answer(400, 'malformed', event_id, 'This delivery was rejected before.');
      return answer(200, 'duplicate', event_id);
    }
    token = claim.token;
    await deps.afterStep?.('claim');

    // 5. Apply, atomically with closing the inbox item.
    if (parsed.kind === 'ignored') {
      await deps.connections.apply([], deps.inbox.completion(event_id, token, 'ignored', parsed.reason));
      log('ignored', { ...logged, reason: parsed.reason });
      return answer(200, 'ignored', event_id);
    }
    await deps.connections.apply(
      parsed.events,
      deps.inbox.completion(event_id, token, 'processed', 'applied'),
    );
    log('processed', { ...logged, users: parsed.events.map((event) => event.user_id) });
    return answer(200, 'processed', event_id);
  } catch (error) {
    if (error instanceof LeaseLostError) {
      log('in_progress', { reason: 'lease_lost' });
      return answer(503, 'in_progress', event_id, 'This delivery is being processed; retry later.');
    }
    deps.log.error('webhook failed', {
      event_id,
      outcome: 'error',
      error: error instanceof Error ? { name: error.name, message: error.message } : 'unknown',
    });
    if (token !== undefined) await deps.inbox.release(event_id, token).catch(() => undefined);
    return answer(500, 'error', event_id, 'The delivery could not be stored; Terra will retry it.');
  }
}
