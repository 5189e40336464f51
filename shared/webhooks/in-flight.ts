import type { DeliveryOutcome, Verdict } from './answer.ts';
import { archiveKey, payloadKeyFor } from './archive.ts';
import { type Identified, sha256 } from './identify.ts';
import type { DeliveryFacts } from './ports.ts';
import type { WebhookDeps } from './receive.ts';

/**
 * One delivery on its way through the receiver (receive.ts), and the moves every path of it shares:
 * archiving it, and acknowledging a copy or a deleted user's delivery.
 */
export interface InFlight {
  deps: WebhookDeps;
  facts: DeliveryFacts;
  /** The notification's body for a downloaded `s3_payload`; otherwise the delivery's own body. */
  raw: Buffer;
  payload?: Buffer;
  hash: string;
  log: (outcome: DeliveryOutcome, extra?: Record<string, unknown>) => void;
}

/** Starts a delivery's way through the pipeline; `duration_ms` in its log counts from its receipt. */
export function inFlight(deps: WebhookDeps, { facts, sha256: hash }: Identified, body: Buffer): InFlight {
  return {
    deps,
    facts,
    raw: body,
    hash,
    log: (outcome, extra = {}) =>
      deps.log.info('webhook', {
        event_id: facts.event_id,
        outcome,
        type: facts.type,
        user_id: facts.user_id,
        duration_ms: deps.now() - facts.received_at,
        ...extra,
      }),
  };
}

/** Archives the delivery (and a downloaded payload next to it) under its user, or `unattributed/`. */
export async function archiveOf(flight: InFlight): Promise<void> {
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

/** A copy of a delivery that was already recorded as further along: acknowledged, nothing changed. */
export function duplicate(flight: InFlight): Verdict {
  flight.log('duplicate');
  return { outcome: 'duplicate', event_id: flight.facts.event_id };
}

/** A delivery for a deleted Terra user: acknowledged and counted, neither applied nor archived. */
export function forgotten(flight: InFlight): Verdict {
  flight.log('deleted_user');
  return { outcome: 'deleted_user', event_id: flight.facts.event_id };
}
