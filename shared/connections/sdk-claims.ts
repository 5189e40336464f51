import type { ConnectionEvent } from './model.ts';
import { isSdkOnly } from './providers.ts';

/**
 * SDK connections belong to the app user who asked for the token (docs/architecture.md, "SDK
 * connections"). Terra's `generateAuthToken` names no app user, and the mobile SDK's `initConnection`
 * takes the `reference_id` from the device, so for an SDK-only provider Terra's `reference_id` is a
 * claim anyone can make. `POST /sdk-token` opens a short claim for its caller; only while it runs may an
 * SDK-only Terra user nobody owns yet become that caller's.
 */

/**
 * How long after the token's own expiry the claim stays open: the token must be used within its
 * `expires_in` (180 s at Terra), and the `auth` webhook follows `initConnection` within seconds, or after
 * a few of Terra's retries. Later than that, the delivery is parked like any other unattributed one.
 */
export const SDK_CLAIM_GRACE_MS = 15 * 60 * 1000;

/** When the claim opened by a token minted at `now` (epoch ms) closes. */
export function claimUntil(now: number, expires_in: number): number {
  return now + expires_in * 1000 + SDK_CLAIM_GRACE_MS;
}

/** A reference an SDK device asserted, that only the app user's live claim can vouch for. */
export function needsClaim(event: Pick<ConnectionEvent, 'provider' | 'reference_id'>): boolean {
  return event.reference_id !== null && isSdkOnly(event.provider);
}

/**
 * The events of a delivery with every unvouched SDK reference taken out: an event for an SDK-only
 * provider, for a Terra user nobody owns (`unowned`), keeps its `reference_id` only if that app user
 * holds a live claim; otherwise it names no one, so the receiver parks it (and a later drain applies it
 * only to an owner something else confirmed). Claims are read once per reference.
 */
export async function withClaimedReferences(
  events: readonly ConnectionEvent[],
  unowned: (user_id: string) => boolean,
  claimed: (reference_id: string) => Promise<boolean>,
): Promise<ConnectionEvent[]> {
  const verdicts = new Map<string, Promise<boolean>>();
  const vouched = (reference_id: string) => {
    let verdict = verdicts.get(reference_id);
    if (verdict === undefined) {
      verdict = claimed(reference_id);
      verdicts.set(reference_id, verdict);
    }
    return verdict;
  };
  return Promise.all(
    events.map(async (event) =>
      event.reference_id !== null &&
      needsClaim(event) &&
      unowned(event.user_id) &&
      !(await vouched(event.reference_id))
        ? { ...event, reference_id: null }
        : event,
    ),
  );
}
