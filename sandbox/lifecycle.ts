import { randomUUID } from 'node:crypto';
import type { DataEndpointType } from '#shared/terra/data-types';
import type { Provider } from './catalogue.ts';
import type { SandboxContext } from './context.ts';
import type { LoginFlow } from './flows.ts';
import { badRequest, SandboxHttpError } from './http.ts';
import {
  accessRevoked,
  authCancelled,
  authSuccess,
  connectionError,
  dataEvent,
  deauth,
  legacyAuthFailure,
  padToBytes,
  permissionChange,
  type UserEventType,
  userReauth,
} from './payloads.ts';
import { type TerraUserRecord, terraTime, toTerraUser } from './users.ts';

/**
 * What happens to a connection, and which webhooks that sends: shared by the login pages, Terra's REST
 * endpoints and the sandbox controls so every path follows the same rules.
 */

export const DEFAULT_ACCOUNT = 'demo-account';

export interface Approval {
  provider: Provider;
  account: string;
  reference_id: string | null;
  /** The id allocated when the link was made; a fresh one otherwise. */
  user_id?: string;
  widget_session_id?: string | null;
}

/**
 * Terra limits development environments to 50 users (`userLimit`). Terra documents the limit but not the
 * error it answers when it is reached: the 403 and this wording are our guess.
 */
export function userLimitReached(limit: number): SandboxHttpError {
  return new SandboxHttpError(
    403,
    `Development environments are limited to ${limit} connected users; ` +
      'deauthenticate users you no longer need (DELETE /auth/deauthenticateUser)',
  );
}

/** Throws `userLimitReached` when one more user would exceed the limit. */
export function ensureRoomForNewUser(context: SandboxContext): void {
  const limit = context.settings().userLimit;
  if (limit !== null && context.users.size >= limit) throw userLimitReached(limit);
}

/**
 * An approved login: a new active user; reconnecting the same account sends `user_reauth` before `auth`.
 * Throws `userLimitReached` for a new account beyond the limit (a reconnection replaces a user, so it fits).
 */
export function approve(context: SandboxContext, approval: Approval): TerraUserRecord {
  const connection = {
    user_id: approval.user_id ?? randomUUID(),
    provider: approval.provider.provider,
    account: approval.account.trim() || DEFAULT_ACCOUNT,
    reference_id: approval.reference_id,
    scopes: approval.provider.scopes.join(','),
  };
  if (!context.users.sameAccount(connection)) ensureRoomForNewUser(context);
  const { user, replaced } = context.users.connect(connection);
  if (replaced) context.deliverer.emit(userReauth(toTerraUser(replaced), toTerraUser(user)));
  context.deliverer.emit(
    authSuccess(toTerraUser(user), { widget_session_id: approval.widget_session_id ?? null }),
  );
  return user;
}

export function cancel(context: SandboxContext, flow: LoginFlow): void {
  const payload = context.settings().legacyAuthFailure ? legacyAuthFailure(flow) : authCancelled(flow);
  context.deliverer.emit(payload);
}

/** Terra deletes the user and tells the developer with `deauth`; answers the trace id. */
function removeUser(context: SandboxContext, user: TerraUserRecord): string {
  context.users.remove(user.user_id);
  return context.deliverer.emit(deauth({ ...toTerraUser(user), active: false }));
}

/** `deauthenticateUser`; undefined when there is no such user. */
export function deauthenticate(context: SandboxContext, userId: string): string | undefined {
  const user = context.users.get(userId);
  return user && removeUser(context, user);
}

const splitScopes = (scopes: string | null | undefined): string[] =>
  (scopes ?? '')
    .split(',')
    .map((scope) => scope.trim())
    .filter((scope) => scope !== '');

function changeScopes(
  context: SandboxContext,
  user: TerraUserRecord,
  provider: Provider | undefined,
  change: { scopes_added?: string; scopes_removed?: string },
): string {
  let added = splitScopes(change.scopes_added);
  let removed = splitScopes(change.scopes_removed);
  if (added.length === 0 && removed.length === 0) {
    // Without a body, flip the provider's optional scope: a realistic change the backend can observe.
    const optional = provider?.optionalScope;
    if (optional === undefined)
      throw badRequest(`${user.provider} has no optional scope; send {"scopes_added"} or {"scopes_removed"}`);
    if (splitScopes(user.scopes).includes(optional)) removed = [optional];
    else added = [optional];
  }
  const scopes = splitScopes(user.scopes).filter((scope) => !removed.includes(scope));
  for (const scope of added) if (!scopes.includes(scope)) scopes.push(scope);
  const updated = context.users.update(user.user_id, { scopes: scopes.join(',') }) ?? user;
  return context.deliverer.emit(permissionChange(toTerraUser(updated), added.join(','), removed.join(',')));
}

/**
 * After Terra fetched data for a user: it polled the provider and has data as recent as `now`; when the data
 * went out as a webhook, that is the user's `last_webhook_update` too. Call after emitting, since the
 * payload carries the previous update time, as a real data event does.
 */
export function noteDataSent(context: SandboxContext, userId: string, now: Date, webhook: boolean): void {
  context.users.update(userId, {
    ...(webhook ? { last_webhook_update: terraTime(now) } : {}),
    last_polled_at: now.toISOString(),
    most_recent_data_at: now.toISOString(),
  });
}

export interface EventOptions {
  provider?: Provider;
  scopes_added?: string;
  scopes_removed?: string;
  /** Data events only: pad the event with samples to about this many bytes. */
  bytes?: number;
}

/** Fires a provider-side event for a user, updating the user as Terra would; answers the trace id. */
export function fireEvent(
  context: SandboxContext,
  user: TerraUserRecord,
  type: UserEventType | DataEndpointType,
  options: EventOptions = {},
): string {
  switch (type) {
    case 'access_revoked': {
      const updated = context.users.update(user.user_id, { active: false }) ?? user;
      return context.deliverer.emit(accessRevoked(toTerraUser(updated)));
    }
    case 'connection_error':
      return context.deliverer.emit(connectionError(toTerraUser(user)));
    case 'permission_change':
      return changeScopes(context, user, options.provider, options);
    case 'deauth':
      return removeUser(context, user);
    default: {
      const now = new Date();
      const event = dataEvent(type, toTerraUser(user), now);
      const traceId = context.deliverer.emit(options.bytes ? padToBytes(event, options.bytes) : event);
      noteDataSent(context, user.user_id, now, true);
      return traceId;
    }
  }
}
