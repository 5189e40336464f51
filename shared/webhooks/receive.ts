import { createHash } from 'node:crypto';
import type { ConnectionEvent } from '#shared/connections/model';
import { withClaimedReferences } from '#shared/connections/sdk-claims';
import { TRACE_ID } from '#shared/ids';
import type { Log } from '#shared/log';
import { type ParsedWebhook, parseWebhook, type Subject } from '#shared/terra/events';
import { verifySignature } from '#shared/terra/signature';
import { type ArchiveWriter, archiveKey, payloadKeyFor } from './archive.ts';
import type { Fetched, PayloadFetcher } from './payloads.ts';
import type { DeliveryConnections, DeliveryFacts, DeliveryLedger } from './ports.ts';

/**
 * The receiver (docs/architecture.md, "The webhook pipeline"): verify the raw bytes → parse → archive →
 * record and apply → answer. 401 writes nothing, except that a validly signed delivery outside the time
 * window is quarantined (kept, never applied); our own failures answer 500 so Terra retries, and every
 * step is safe to repeat, so the retry repairs whatever a failed attempt left.
 */
export interface WebhookDeps {
  /** Resolved per delivery (a cached secret in AWS); a failure to read it is ours: 500, nothing written. */
  signingSecrets: () => Promise<readonly string[]>;
  toleranceSeconds: number;
  archive: ArchiveWriter;
  deliveries: DeliveryLedger;
  connections: DeliveryConnections;
  payloads: PayloadFetcher;
  now: () => number;
  log: Log;
  /** Test seam for crash injection between steps; never set in production code paths. */
  afterStep?: (step: 'archive' | 'claim') => Promise<void> | void;
}

export interface Delivery {
  /** Lower-cased header names. */
  headers: Readonly<Record<string, string>>;
  body: Buffer;
  /**
   * A replay of an archived delivery whose signature was verified when it was archived (the operations
   * CLI); its signature time is taken as given. Never set from a request.
   */
  replay?: {
    signed_at: number;
    /**
     * An `s3_payload`'s payload as an earlier attempt downloaded and archived it: used instead of the URL,
     * which has expired by the time anyone replays.
     */
    payload?: Buffer;
  };
}

export type DeliveryOutcome =
  | 'processed'
  | 'duplicate'
  | 'ignored'
  | 'rejected'
  | 'stale'
  | 'malformed'
  | 'in_progress'
  | 'deleted_user'
  | 'parked'
  | 'payload_failed'
  | 'error';

/** The body Terra gets back: an acknowledgement, or the error code (the outcome) and why. */
export type WebhookAnswer =
  | { received: true; outcome: DeliveryOutcome; event_id?: string }
  | { error: { code: DeliveryOutcome; message: string } };

export interface WebhookResult {
  status: number;
  outcome: DeliveryOutcome;
  event_id?: string;
  body: WebhookAnswer;
}

// A date alone is UTC by definition; a date-time must say its zone.
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?))?$/i;
const IN_PROGRESS_POLLS = 15;
const IN_PROGRESS_POLL_MS = 100;
const BUSY = 'This delivery is being processed; retry later.';

/** The last instant a `Date` can hold: ordering times beyond it would throw wherever they are printed. */
const MAX_DATE_MS = 8.64e15;

/** `x-terra-ordering-timestamp` as epoch ms; accepts epoch s/ms/µs/ns or ISO-8601, else undefined. */
export function parseOrderingTimestamp(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) {
    const n = Number(text);
    const ms = n < 1e11 ? n * 1000 : n < 1e14 ? n : n < 1e17 ? n / 1000 : n / 1e6;
    // 25 digits are still "nanoseconds", 1e18 ms: past any date, so the signature time orders it instead.
    return ms <= MAX_DATE_MS ? Math.round(ms) : undefined;
  }
  // ISO-8601 only: Date.parse alone also reads legacy forms ('-5', 'x 2025') in local time.
  if (!ISO_WITH_ZONE.test(text)) return undefined;
  const parsed = Date.parse(text);
  return Number.isNaN(parsed) ? undefined : parsed;
}

function decodeJson(body: Uint8Array): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body)) };
  } catch {
    return { ok: false };
  }
}

const sha256 = (body: Uint8Array) => createHash('sha256').update(body).digest('hex');

function answer(
  status: number,
  outcome: DeliveryOutcome,
  event_id?: string,
  message?: string,
): WebhookResult {
  const id = event_id ? { event_id } : {};
  const body: WebhookAnswer =
    status >= 400
      ? { error: { code: outcome, message: message ?? outcome } }
      : { received: true, outcome, ...id };
  return { status, outcome, body, ...id };
}

/** One delivery on its way through the pipeline: what it is, and what we know about it so far. */
interface InFlight {
  deps: WebhookDeps;
  facts: DeliveryFacts;
  /** The notification's body for a downloaded `s3_payload`; otherwise the delivery's own body. */
  raw: Buffer;
  payload?: Buffer;
  hash: string;
  log: (outcome: DeliveryOutcome, extra?: Record<string, unknown>) => void;
}

export async function receiveWebhook(deps: WebhookDeps, delivery: Delivery): Promise<WebhookResult> {
  const { headers, body } = delivery;
  const receivedAt = deps.now();

  // 1. Signature over the exact bytes, before anything is parsed or written.
  let signedAt: number;
  if (delivery.replay) signedAt = delivery.replay.signed_at;
  else {
    let secrets: readonly string[];
    try {
      secrets = await deps.signingSecrets();
    } catch (error) {
      deps.log.error('webhook signing secret unavailable', {
        outcome: 'error',
        error: (error as Error).name,
      });
      return answer(500, 'error', undefined, 'The signing secret could not be read; Terra will retry.');
    }
    const check = verifySignature({
      header: headers['terra-signature'] ?? headers['x-terra-signature'],
      rawBody: body,
      secrets,
      nowSeconds: Math.floor(receivedAt / 1000),
      toleranceSeconds: deps.toleranceSeconds,
    });
    if (!check.ok && check.reason !== 'outside_tolerance') {
      deps.log.warn('webhook rejected', { outcome: 'rejected', reason: check.reason });
      return answer(401, 'rejected', undefined, `Invalid webhook signature (${check.reason}).`);
    }
    signedAt = check.timestamp;
    if (!check.ok) {
      // Authentic but outside the window: refused like any other, but kept (docs: "Stale deliveries").
      return quarantine(deps, delivery, receivedAt, signedAt).catch((error: unknown) => failed(deps, error));
    }
  }

  const hash = sha256(body);
  const traceId = headers['x-terra-trace-id']?.trim();
  const event_id = traceId && TRACE_ID.test(traceId) ? traceId : `sha256:${hash}`;
  const terraReference = headers['terra-reference']?.trim();
  const facts: DeliveryFacts = {
    event_id,
    type: 'unknown',
    archive_key: '',
    bytes: body.length,
    body_sha256: hash,
    received_at: receivedAt,
    at: parseOrderingTimestamp(headers['x-terra-ordering-timestamp']) ?? signedAt * 1000,
    signed_at: signedAt,
    ...(terraReference && TRACE_ID.test(terraReference) ? { terra_reference: terraReference } : {}),
    ...(delivery.replay ? { replayed_at: new Date(receivedAt).toISOString() } : {}),
  };
  const flight: InFlight = {
    deps,
    facts,
    raw: body,
    hash,
    log: (outcome, extra = {}) =>
      deps.log.info('webhook', {
        event_id,
        outcome,
        type: facts.type,
        user_id: facts.user_id,
        duration_ms: deps.now() - receivedAt,
        ...extra,
      }),
  };

  try {
    const json = decodeJson(body);
    if (!json.ok) {
      // Malformed under a valid signature: kept (archived) and marked failed, never retried into success.
      facts.type = 'malformed';
      await archiveOf(flight);
      if ((await deps.deliveries.recordFailed(facts, 'malformed_json')) === 'duplicate')
        return duplicate(flight);
      flight.log('malformed');
      return answer(400, 'malformed', event_id, 'The body is not valid JSON.');
    }
    const parsed = parseWebhook(json.value, { event_id, at: facts.at });
    facts.type = parsed.type;
    if (parsed.kind === 's3_payload')
      return await receiveDownloaded(flight, parsed.url, delivery.replay?.payload);
    return await dispatch(flight, parsed);
  } catch (error) {
    return failed(deps, error, event_id);
  }
}

function failed(deps: WebhookDeps, error: unknown, event_id?: string): WebhookResult {
  deps.log.error('webhook failed', {
    event_id,
    outcome: 'error',
    error: error instanceof Error ? { name: error.name, message: error.message } : 'unknown',
  });
  return answer(500, 'error', event_id, 'The delivery could not be stored; Terra will retry it.');
}

/** Archives the delivery (and a downloaded payload next to it) under its user, or `unattributed/`. */
async function archiveOf(flight: InFlight): Promise<void> {
  const { deps, facts } = flight;
  facts.archive_key = archiveKey({
    zone: 'delivery',
    event_id: facts.event_id,
    sha256: flight.hash,
    receivedAtMs: facts.received_at,
    user_id: facts.user_id,
    reference_id: facts.reference_id,
    ...(facts.parked ? { parked: true } : {}),
  });
  await deps.archive.put(facts.archive_key, flight.raw);
  if (flight.payload) {
    facts.payload_key = payloadKeyFor(facts.archive_key);
    facts.payload_sha256 = sha256(flight.payload);
    await deps.archive.put(facts.payload_key, flight.payload);
  }
  await deps.afterStep?.('archive');
}

function about(facts: DeliveryFacts, subject: Subject | undefined): void {
  if (!subject) return;
  facts.user_id = subject.user_id;
  if (subject.reference_id !== null) facts.reference_id = subject.reference_id;
  if (subject.provider !== undefined) facts.provider = subject.provider;
}

async function dispatch(flight: InFlight, parsed: Exclude<ParsedWebhook, { kind: 's3_payload' }>) {
  const { deps, facts } = flight;
  switch (parsed.kind) {
    case 'connection':
      return applyConnectionEvents(flight, parsed.events);
    case 'data':
      return applyData(flight, parsed.event, parsed.subject);
    case 'tracking': {
      const { subject } = parsed;
      about(facts, subject);
      const owner = (await deps.connections.owners([subject.user_id])).get(subject.user_id);
      if (owner?.state === 'deleted') return forgotten(flight);
      if (parsed.reference !== undefined) facts.terra_reference ??= parsed.reference;
      if (parsed.expected_payloads !== undefined) facts.expected_payloads = parsed.expected_payloads;
      // Counted against its request once someone owns the Terra user (the request is theirs).
      if (owner?.state === 'missing' && subject.reference_id === null)
        return park(flight, [], [subject.user_id]);
      return recordFinal(flight, 'processed', 'tracked');
    }
    case 'ignored':
      if (parsed.subject !== undefined) {
        about(facts, parsed.subject);
        if ((await deps.connections.deleted([parsed.subject.user_id])).size > 0) return forgotten(flight);
      } else if (parsed.reference_id !== undefined) {
        facts.reference_id = parsed.reference_id;
        // It names only an app user (a cancelled login): nothing of an app user deleted since is kept.
        if (await deps.deliveries.referenceDeleted(parsed.reference_id)) return forgotten(flight);
      }
      return recordFinal(flight, 'ignored', parsed.reason);
  }
}

/** A copy of a delivery that was already recorded as further along: acknowledged, nothing changed. */
function duplicate(flight: InFlight): WebhookResult {
  flight.log('duplicate');
  return answer(200, 'duplicate', flight.facts.event_id);
}

/** A delivery for a deleted Terra user: acknowledged and counted, neither applied nor archived. */
function forgotten(flight: InFlight): WebhookResult {
  flight.log('deleted_user');
  return answer(200, 'deleted_user', flight.facts.event_id);
}

async function recordFinal(flight: InFlight, status: 'processed' | 'ignored', outcome: string) {
  await archiveOf(flight);
  const recorded = await flight.deps.deliveries.record(flight.facts, status, outcome);
  const result = recorded === 'duplicate' ? 'duplicate' : status === 'ignored' ? 'ignored' : 'processed';
  flight.log(result, { reason: outcome });
  return answer(200, result, flight.facts.event_id);
}

/**
 * A data event needs no lease: its effect (moving `last_webhook_update` forward) is idempotent, and it
 * is announced through the delivery record itself, which exists once however often Terra repeats it.
 * Two writes: touch the record (which also says who the app user is), record the delivery.
 */
async function applyData(flight: InFlight, event: ConnectionEvent, subject: Subject): Promise<WebhookResult> {
  const { deps, facts } = flight;
  about(facts, subject);
  const touched = await deps.connections.touch(
    subject.user_id,
    new Date(event.at).toISOString(),
    subject.reference_id,
  );
  if (touched.state === 'deleted') return forgotten(flight);
  // No record, and the payload names no app user (or only an SDK device's unclaimed word for one): no
  // record without an owner (docs/decisions/0020).
  if (touched.state === 'missing') {
    const [claimed = event] = await withClaimedReferences(
      [event],
      () => true,
      (reference_id) => deps.deliveries.sdkClaimed(reference_id),
    );
    if (claimed.reference_id === null) {
      delete facts.reference_id;
      // Announced (`terra.data`) when it is applied, like any data delivery.
      facts.data = true;
      return park(flight, [claimed], [subject.user_id]);
    }
  }
  await archiveOf(flight);
  let record = touched.state === 'missing' ? undefined : touched.record;
  if (touched.state === 'missing') {
    [record] = await deps.connections.apply([event]);
    if (record === undefined) {
      // Deleted between the touch and the write: what was just archived goes too.
      await deps.archive.delete([facts.archive_key, ...(facts.payload_key ? [facts.payload_key] : [])]);
      return forgotten(flight);
    }
  }
  if (facts.reference_id === undefined && record?.reference_id !== undefined) {
    facts.reference_id = record.reference_id;
  }
  facts.data = true;
  const recorded = await deps.deliveries.record(facts, 'processed', 'applied');
  const outcome = recorded === 'duplicate' ? 'duplicate' : 'processed';
  flight.log(outcome);
  return answer(200, outcome, facts.event_id);
}

/**
 * A delivery for a Terra user no app user owns yet (docs/decisions/0020): acknowledged, archived under
 * `unattributed/`, and kept with its events, which are applied once the owner is known (the publisher
 * drains them when the user's first record commits).
 */
async function park(flight: InFlight, events: ConnectionEvent[], unowned: string[]): Promise<WebhookResult> {
  const { deps, facts } = flight;
  facts.parked = true;
  await archiveOf(flight);
  const parked = await deps.deliveries.park(facts, events, unowned);
  if (parked === 'attributed') {
    // Owned (or deleted) since we looked, a rare race: Terra's retry takes the normal way.
    flight.log('error', { reason: 'attributed_meanwhile' });
    return answer(500, 'error', facts.event_id, 'The Terra user was attributed meanwhile; Terra will retry.');
  }
  if (parked === 'duplicate') return duplicate(flight);
  flight.log('parked', { users: unowned });
  return answer(200, 'parked', facts.event_id);
}

/** Connection events keep the lease: the records and the delivery's closing move in one transaction. */
async function applyConnectionEvents(flight: InFlight, all: ConnectionEvent[]): Promise<WebhookResult> {
  const { deps, facts } = flight;
  const owners = await deps.connections.owners(all.map((event) => event.user_id));
  // An SDK device's reference counts only under that app user's live claim (POST /sdk-token), or when the
  // delivery's other Terra user is already theirs (a reauth of a connection they own).
  const owned = new Set(
    [...owners.values()].flatMap((owner) => (owner.state === 'owned' ? [owner.reference_id] : [])),
  );
  const events = await withClaimedReferences(
    all.filter((event) => owners.get(event.user_id)?.state !== 'deleted'),
    (user_id) => owners.get(user_id)?.state === 'missing',
    async (reference_id) => owned.has(reference_id) || deps.deliveries.sdkClaimed(reference_id),
  );
  const [first] = events;
  if (first === undefined) return forgotten(flight);
  about(facts, first);
  // A Terra user nobody owns, and the event does not name an app user: parked until one is known.
  const unowned = events
    .filter((event) => event.reference_id === null && owners.get(event.user_id)?.state === 'missing')
    .map((event) => event.user_id);
  if (unowned.length > 0) return park(flight, events, unowned);
  await archiveOf(flight);

  let claim = await deps.deliveries.claim(facts);
  for (let poll = 0; claim.kind === 'in_progress' && poll < IN_PROGRESS_POLLS; poll++) {
    // A concurrent copy is being applied right now; wait briefly for its verdict instead of applying twice.
    await new Promise((resolve) => setTimeout(resolve, IN_PROGRESS_POLL_MS));
    const status = await deps.deliveries.status(facts.event_id);
    if (status !== undefined && status !== 'received') claim = { kind: 'done', status };
  }
  if (claim.kind === 'in_progress') {
    flight.log('in_progress');
    return answer(503, 'in_progress', facts.event_id, BUSY);
  }
  if (claim.kind === 'done') {
    flight.log('duplicate', { previous: claim.status });
    return answer(200, 'duplicate', facts.event_id);
  }
  const { token } = claim;
  try {
    await deps.afterStep?.('claim');
    if ((await deps.deliveries.applyAndClose(facts, token, events)) === 'lease_lost') {
      flight.log('in_progress', { reason: 'lease_lost' });
      return answer(503, 'in_progress', facts.event_id, BUSY);
    }
  } catch (error) {
    await deps.deliveries.release(facts.event_id, token).catch(() => undefined);
    throw error;
  }
  flight.log('processed', { users: events.map((event) => event.user_id) });
  return answer(200, 'processed', facts.event_id);
}

/**
 * `s3_payload`: Terra's notification for a payload too large to send inline, with a pre-signed URL that
 * expires within minutes. The payload is fetched within the delivery, archived next to the notification
 * and processed exactly as the inline event it stands for. A failure a retry can fix answers 500; a URL
 * that can never work again (expired, forbidden) is recorded as failed and answered 200.
 */
async function receiveDownloaded(flight: InFlight, url: string, archived?: Buffer): Promise<WebhookResult> {
  const { deps, facts } = flight;
  const fetched: Fetched = archived ? { ok: true, body: archived } : await deps.payloads.fetch(url);
  if (!fetched.ok) return downloadFailed(flight, fetched.reason, fetched.retryable);
  const json = decodeJson(fetched.body);
  // A body with no declared length that does not parse may just be cut short: not kept, retried.
  if (!json.ok && fetched.maybeTruncated) return downloadFailed(flight, 'truncated', true);
  flight.payload = fetched.body;
  facts.bytes = fetched.body.length;
  const parsed = json.ok ? parseWebhook(json.value, { event_id: facts.event_id, at: facts.at }) : undefined;
  if (parsed === undefined || parsed.kind === 's3_payload') return downloadFailed(flight, 'malformed', false);
  facts.type = parsed.type;
  return dispatch(flight, parsed);
}

/**
 * The notification is kept either way (with the payload, when one was downloaded). A failure a retry may
 * fix answers 500; one that cannot heal is recorded failed, unless a copy of the delivery got further.
 */
async function downloadFailed(flight: InFlight, reason: string, retryable: boolean): Promise<WebhookResult> {
  const { deps, facts } = flight;
  facts.type = 's3_payload';
  await archiveOf(flight);
  if (retryable) {
    flight.log('error', { reason });
    return answer(500, 'error', facts.event_id, `The payload could not be downloaded (${reason}).`);
  }
  if ((await deps.deliveries.recordFailed(facts, `payload_${reason}`)) === 'duplicate')
    return duplicate(flight);
  flight.log('payload_failed', { reason });
  return answer(200, 'payload_failed', facts.event_id);
}

/** Keeps an authentic delivery whose signature time is outside the window, for a deliberate replay. */
async function quarantine(
  deps: WebhookDeps,
  delivery: Delivery,
  receivedAt: number,
  signedAt: number,
): Promise<WebhookResult> {
  const hash = sha256(delivery.body);
  const traceId = delivery.headers['x-terra-trace-id']?.trim();
  const event_id = traceId && TRACE_ID.test(traceId) ? traceId : `sha256:${hash}`;
  const refusal = answer(401, 'stale', event_id, 'Invalid webhook signature (outside_tolerance).');
  // Already known (a late copy of a delivery we have): nothing new to keep.
  if ((await deps.deliveries.status(event_id)) !== undefined) return refusal;
  const json = decodeJson(delivery.body);
  const parsed = json.ok ? parseWebhook(json.value, { event_id, at: signedAt * 1000 }) : undefined;
  const subject =
    parsed?.kind === 'connection'
      ? parsed.events[0]
      : parsed?.kind === 'data' || parsed?.kind === 'tracking' || parsed?.kind === 'ignored'
        ? parsed.subject
        : undefined;
  // Nothing of a deleted user (or deleted app user) is kept, not even in quarantine.
  if (subject && (await deps.connections.deleted([subject.user_id])).size > 0) return refusal;
  const reference = parsed?.kind === 'ignored' ? parsed.reference_id : undefined;
  if (reference && (await deps.deliveries.referenceDeleted(reference))) return refusal;
  const terraReference = delivery.headers['terra-reference']?.trim();
  const facts: DeliveryFacts = {
    event_id,
    type: parsed?.type ?? 'malformed',
    archive_key: archiveKey({
      zone: 'quarantine',
      event_id,
      sha256: hash,
      receivedAtMs: receivedAt,
      user_id: subject?.user_id,
      reference_id: subject?.reference_id ?? reference,
    }),
    bytes: delivery.body.length,
    body_sha256: hash,
    received_at: receivedAt,
    at: parseOrderingTimestamp(delivery.headers['x-terra-ordering-timestamp']) ?? signedAt * 1000,
    signed_at: signedAt,
    ...(terraReference && TRACE_ID.test(terraReference) ? { terra_reference: terraReference } : {}),
  };
  about(facts, subject);
  // Named by the app user alone (a cancelled login): `ops deliveries` and a deletion find it by it too.
  if (subject === undefined && reference) facts.reference_id = reference;
  await deps.archive.put(facts.archive_key, delivery.body);
  await deps.deliveries.recordStale(facts);
  deps.log.warn('webhook', { event_id, outcome: 'stale', type: facts.type, signed_at: signedAt });
  return refusal;
}
