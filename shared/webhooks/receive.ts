import type { ConnectionEvent } from '#shared/connections/model';
import { withClaimedReferences } from '#shared/connections/sdk-claims';
import type { Log } from '#shared/log';
import type { ParsedWebhook, Subject } from '#shared/terra/events';
import { verifySignature } from '#shared/terra/signature';
import { answer, type DownloadFailure, type Verdict, type WebhookResult } from './answer.ts';
import type { ArchiveWriter } from './archive.ts';
import { about, type Identified, identify, parseBody, unreachable } from './identify.ts';
import { archiveOf, duplicate, forgotten, type InFlight, inFlight } from './in-flight.ts';
import type { Fetched, PayloadFetcher } from './payloads.ts';
import type { DeliveryConnections, DeliveryLedger } from './ports.ts';
import { quarantine } from './quarantine.ts';

export type { DeliveryOutcome, WebhookAnswer, WebhookResult } from './answer.ts';
export { parseOrderingTimestamp } from './identify.ts';

/**
 * The receiver (docs/architecture.md, "The webhook pipeline"): verify the raw bytes → parse → archive →
 * record and apply → answer. 401 writes nothing, except that a validly signed delivery outside the time
 * window is quarantined (kept, never applied); our own failures answer 500 so Terra retries, and every
 * step is safe to repeat, so the retry repairs whatever a failed attempt left. The steps speak in
 * verdicts; `answer` (answer.ts) alone turns them into statuses and bodies.
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

const IN_PROGRESS_POLLS = 15;
const IN_PROGRESS_POLL_MS = 100;

export async function receiveWebhook(deps: WebhookDeps, delivery: Delivery): Promise<WebhookResult> {
  const { headers, body } = delivery;
  const receivedAt = deps.now();

  // 1. Signature over the exact bytes, before anything is parsed or written.
  let signedAt: number;
  let stale = false;
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
      return answer({ outcome: 'error', failure: { of: 'signing_secret' } });
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
      return answer({ outcome: 'rejected', reason: check.reason });
    }
    signedAt = check.timestamp;
    stale = !check.ok;
  }

  // 2. Named and parsed alike, whether it is applied or quarantined.
  let identified: Identified;
  try {
    identified = identify({ headers, body, signed_at: signedAt, received_at: receivedAt });
  } catch (error) {
    return answer(failed(deps, error));
  }
  if (stale) {
    // Authentic but outside the window: refused like any other, but kept (docs: "Stale deliveries").
    return quarantine(deps, identified, body).then(answer, (error: unknown) => answer(failed(deps, error)));
  }

  const { facts, parsed } = identified;
  if (delivery.replay) facts.replayed_at = new Date(receivedAt).toISOString();
  const flight = inFlight(deps, identified, body);

  try {
    if (parsed === undefined) {
      // Malformed under a valid signature: kept (archived) and marked failed, never retried into success.
      await archiveOf(flight);
      if ((await deps.deliveries.recordFailed(facts, 'malformed_json')) === 'duplicate')
        return answer(duplicate(flight));
      flight.log('malformed');
      return answer({ outcome: 'malformed', event_id: facts.event_id });
    }
    if (parsed.kind === 's3_payload')
      return answer(await receiveDownloaded(flight, parsed.url, delivery.replay?.payload));
    return answer(await dispatch(flight, parsed));
  } catch (error) {
    return answer(failed(deps, error, facts.event_id));
  }
}

function failed(deps: WebhookDeps, error: unknown, event_id?: string): Verdict {
  deps.log.error('webhook failed', {
    event_id,
    outcome: 'error',
    error: error instanceof Error ? { name: error.name, message: error.message } : 'unknown',
  });
  const failure = { of: 'storage' } as const;
  return event_id ? { outcome: 'error', event_id, failure } : { outcome: 'error', failure };
}

async function dispatch(
  flight: InFlight,
  parsed: Exclude<ParsedWebhook, { kind: 's3_payload' }>,
): Promise<Verdict> {
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
    default:
      return unreachable(parsed);
  }
}

async function recordFinal(
  flight: InFlight,
  status: 'processed' | 'ignored',
  outcome: string,
): Promise<Verdict> {
  await archiveOf(flight);
  const recorded = await flight.deps.deliveries.record(flight.facts, status, outcome);
  const result = recorded === 'duplicate' ? 'duplicate' : status === 'ignored' ? 'ignored' : 'processed';
  flight.log(result, { reason: outcome });
  return { outcome: result, event_id: flight.facts.event_id };
}

/**
 * A data event needs no lease: its effect (moving `last_webhook_update` forward) is idempotent, and it
 * is announced through the delivery record itself, which exists once however often Terra repeats it.
 * Two writes: touch the record (which also says who the app user is), record the delivery.
 */
async function applyData(flight: InFlight, event: ConnectionEvent, subject: Subject): Promise<Verdict> {
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
  return { outcome, event_id: facts.event_id };
}

/**
 * A delivery for a Terra user no app user owns yet (docs/decisions/0020): acknowledged, archived under
 * `unattributed/`, and kept with its events, which are applied once the owner is known (the publisher
 * drains them when the user's first record commits).
 */
async function park(flight: InFlight, events: ConnectionEvent[], unowned: string[]): Promise<Verdict> {
  const { deps, facts } = flight;
  facts.parked = true;
  await archiveOf(flight);
  const parked = await deps.deliveries.park(facts, events, unowned);
  if (parked === 'attributed') {
    // Owned (or deleted) since we looked, a rare race: Terra's retry takes the normal way.
    flight.log('error', { reason: 'attributed_meanwhile' });
    return { outcome: 'error', event_id: facts.event_id, failure: { of: 'attribution' } };
  }
  if (parked === 'duplicate') return duplicate(flight);
  flight.log('parked', { users: unowned });
  return { outcome: 'parked', event_id: facts.event_id };
}

/** Connection events keep the lease: the records and the delivery's closing move in one transaction. */
async function applyConnectionEvents(flight: InFlight, all: ConnectionEvent[]): Promise<Verdict> {
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
    return { outcome: 'in_progress', event_id: facts.event_id };
  }
  if (claim.kind === 'done') {
    flight.log('duplicate', { previous: claim.status });
    return { outcome: 'duplicate', event_id: facts.event_id };
  }
  const { token } = claim;
  try {
    await deps.afterStep?.('claim');
    if ((await deps.deliveries.applyAndClose(facts, token, events)) === 'lease_lost') {
      flight.log('in_progress', { reason: 'lease_lost' });
      return { outcome: 'in_progress', event_id: facts.event_id };
    }
  } catch (error) {
    await deps.deliveries.release(facts.event_id, token).catch(() => undefined);
    throw error;
  }
  flight.log('processed', { users: events.map((event) => event.user_id) });
  return { outcome: 'processed', event_id: facts.event_id };
}

/**
 * `s3_payload`: Terra's notification for a payload too large to send inline, with a pre-signed URL that
 * expires within minutes. The payload is fetched within the delivery, archived next to the notification
 * and processed exactly as the inline event it stands for. A failure a retry can fix answers 500; a URL
 * that can never work again (expired, forbidden) is recorded as failed and answered 200.
 */
async function receiveDownloaded(flight: InFlight, url: string, archived?: Buffer): Promise<Verdict> {
  const { deps, facts } = flight;
  const fetched: Fetched = archived ? { ok: true, body: archived } : await deps.payloads.fetch(url);
  if (!fetched.ok) return downloadFailed(flight, fetched.reason, fetched.retryable);
  const parsed = parseBody(fetched.body, facts);
  // A body with no declared length that does not parse may just be cut short: not kept, retried.
  if (parsed === undefined && fetched.maybeTruncated) return downloadFailed(flight, 'truncated', true);
  flight.payload = fetched.body;
  facts.bytes = fetched.body.length;
  if (parsed === undefined || parsed.kind === 's3_payload') return downloadFailed(flight, 'malformed', false);
  facts.type = parsed.type;
  return dispatch(flight, parsed);
}

/**
 * The notification is kept either way (with the payload, when one was downloaded). A failure a retry may
 * fix answers 500; one that cannot heal is recorded failed, unless a copy of the delivery got further.
 */
async function downloadFailed(
  flight: InFlight,
  reason: DownloadFailure,
  retryable: boolean,
): Promise<Verdict> {
  const { deps, facts } = flight;
  facts.type = 's3_payload';
  await archiveOf(flight);
  if (retryable) {
    flight.log('error', { reason });
    return { outcome: 'error', event_id: facts.event_id, failure: { of: 'download', reason } };
  }
  if ((await deps.deliveries.recordFailed(facts, `payload_${reason}`)) === 'duplicate')
    return duplicate(flight);
  flight.log('payload_failed', { reason });
  return { outcome: 'payload_failed', event_id: facts.event_id };
}
