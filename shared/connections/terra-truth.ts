import type { ConnectionEvent, ConnectionRecord } from './model.ts';
import type { TerraUserInfo } from './ports.ts';
import { needsClaim } from './sdk-claims.ts';
import { isTerminal } from './transitions.ts';

/**
 * What Terra's own word about a user, read now, may change in our record: one rule, shared by the
 * redirect callbacks, `GET /connections?refresh=true` and the scheduled reconcile, each stamping the
 * event with the time it asked (docs/architecture.md, "Callbacks, refresh and the reconcile").
 * - Terra lists the user: a pending or unknown record becomes `active`; a live one keeps its status
 *   (an `error` or `revoked` that came from Terra's events is not Terra's listing to clear) and only
 *   its scopes follow Terra; `active: false` means revoked.
 * - Terra no longer lists a live user (refresh and reconcile only, never a callback, which anyone can
 *   call): it is `disconnected`, after a grace period for a login still in progress.
 * Nothing here ever produces a terminal state from what a caller claims.
 */

// A pending record Terra does not list yet is a login still in progress, not a lost connection.
export const PENDING_GRACE_MS = 60 * 60 * 1000;

/**
 * Terra lists this user: confirm it (pending → active, scopes synced) or mark it revoked. `claimed`: the
 * app user Terra names holds a live SDK claim (only `GET /connections?refresh=true` knows; the callback
 * and the reconcile act for no caller and never create an SDK-only record).
 */
export function confirmedByTerra(
  user: TerraUserInfo,
  current: ConnectionRecord | undefined,
  event_id: string,
  at: number,
  options: { claimed?: boolean } = {},
): ConnectionEvent | undefined {
  // An SDK-only provider's reference is whatever the device said: Terra's word keeps a record we have up
  // to date, and makes a new one only for an app user who holds a live claim (sdk-claims.ts).
  if (current === undefined && needsClaim(user) && options.claimed !== true) return undefined;
  const base = {
    user_id: user.user_id,
    reference_id: user.reference_id,
    event_id,
    at,
    provider: user.provider,
  };
  if (current !== undefined && isTerminal(current.status)) return undefined;
  // No record without an owner (docs/decisions/0020): Terra names no app user, and none owns it yet.
  if (current === undefined && user.reference_id === null) return undefined;
  if (user.active === false) return { ...base, change: { kind: 'revoked' } };
  if (current === undefined || current.status === 'pending') {
    return {
      ...base,
      change:
        user.scopes === undefined
          ? { kind: 'authenticated' }
          : { kind: 'authenticated', scopes: user.scopes },
    };
  }
  if (user.scopes === undefined) return undefined;
  return { ...base, change: { kind: 'scopes_changed', scopes: user.scopes, added: [], removed: [] } };
}

/** Terra no longer lists this stored user: a live record becomes `disconnected`. */
export function goneFromTerra(
  record: ConnectionRecord,
  event_id: string,
  at: number,
): ConnectionEvent | undefined {
  if (isTerminal(record.status)) return undefined;
  const since = record.created_at ?? record.last_webhook_update;
  if (record.status === 'pending' && since !== undefined && at - Date.parse(since) < PENDING_GRACE_MS) {
    return undefined;
  }
  return {
    user_id: record.user_id,
    reference_id: record.reference_id ?? null,
    event_id,
    at,
    change: { kind: 'disconnected' },
  };
}
