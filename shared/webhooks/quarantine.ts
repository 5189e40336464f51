import type { Verdict } from './answer.ts';
import { archiveKey } from './archive.ts';
import { about, type Identified, subjectOf } from './identify.ts';
import type { WebhookDeps } from './receive.ts';

/**
 * Keeps an authentic delivery whose signature time is outside the window, for a deliberate replay
 * (docs/decisions/0011): archived under `quarantine/`, recorded `stale`, never applied, and refused
 * either way. Named exactly as the normal path names it (`identify`), so a later valid copy or a replay
 * takes the stale item's place.
 */
export async function quarantine(
  deps: Pick<WebhookDeps, 'archive' | 'deliveries' | 'connections' | 'log'>,
  { facts, sha256, parsed }: Identified,
  body: Buffer,
): Promise<Verdict> {
  const { event_id } = facts;
  const refusal: Verdict = { outcome: 'stale', event_id };
  // Already known (a late copy of a delivery we have): nothing new to keep.
  if ((await deps.deliveries.status(event_id)) !== undefined) return refusal;
  const subject = parsed && subjectOf(parsed);
  // Nothing of a deleted user (or deleted app user) is kept, not even in quarantine.
  if (subject && (await deps.connections.deleted([subject.user_id])).size > 0) return refusal;
  const reference = parsed?.kind === 'ignored' ? parsed.reference_id : undefined;
  if (reference && (await deps.deliveries.referenceDeleted(reference))) return refusal;
  about(facts, subject);
  // Named by the app user alone (a cancelled login): `ops deliveries` and a deletion find it by it too.
  if (subject === undefined && reference) facts.reference_id = reference;
  facts.archive_key = archiveKey({
    zone: 'quarantine',
    event_id,
    sha256,
    receivedAtMs: facts.received_at,
    user_id: facts.user_id,
    reference_id: facts.reference_id,
  });
  await deps.archive.put(facts.archive_key, body);
  await deps.deliveries.recordStale(facts);
  deps.log.warn('webhook', { event_id, outcome: 'stale', type: facts.type, signed_at: facts.signed_at });
  return refusal;
}
