import type { TerraUser } from '../terra/client.ts';
import type { ConnectionEvent, ConnectionRecord } from './model.ts';
import { isTerminal, scopesIfGiven } from './transitions.ts';

/**
 * Drift repair, shared by `GET /connections?refresh=true` and the scheduled reconcile: what Terra's
 * own listing says about a user, turned into an event for the same state machine, stamped with the time
 * we read it.
 */

// A pending record Terra does not list yet is a login still in progress, not a lost connection.
export const PENDING_GRACE_MS = 60 * 60 * 1000;

/** Terra says this user is connected (its user info, a confirmed callback): `active`, with its scopes. */
export function authenticatedByTerra(
  user: TerraUser,
  reference_id: string | null,
  event_id: string,
  at: number,
): ConnectionEvent {
  const scopes = scopesIfGiven(user.scopes);
  return {
    user_id: user.user_id,
    reference_id,
    event_id,
    at,
    provider: user.provider,
    change: scopes === undefined ? { kind: 'authenticated' } : { kind: 'authenticated', scopes },
  };
}

/** Terra lists this user: confirm it (pending → active, scopes synced) or mark it revoked. */
export function confirmedByTerra(
  user: TerraUser,
  current: ConnectionRecord | undefined,
  reference_id: string | null,
  event_id: string,
  at: number,
): ConnectionEvent | undefined {
  const base = { user_id: user.user_id, reference_id, event_id, at, provider: user.provider };
  const scopes = scopesIfGiven(user.scopes);
  if (user.active === false) return { ...base, change: { kind: 'revoked' } };
  if (!current || current.status === 'pending') return authenticatedByTerra(user, reference_id, event_id, at);
  // A known live user keeps its status (an `error` Terra's listing cannot express must survive).
  if (scopes === undefined || isTerminal(current.status)) return undefined;
  return { ...base, change: { kind: 'scopes_changed', scopes, added: [], removed: [] } };
}

/** Terra no longer lists this stored user: a live record becomes `disconnected`. */
export function goneFromTerra(
  record: ConnectionRecord,
  event_id: string,
  at: number,
): ConnectionEvent | undefined {
  if (isTerminal(record.status)) return undefined;
  if (record.status === 'pending' && at - Date.parse(record.created_at) < PENDING_GRACE_MS) return undefined;
  return {
    user_id: record.user_id,
    reference_id: record.reference_id,
    event_id,
    at,
    change: { kind: 'disconnected' },
  };
}
