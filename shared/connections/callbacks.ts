import { PROVIDER_ID, TERRA_USER_ID } from '#shared/ids';
import type { ConnectDeps } from './flows.ts';
import { toConnection } from './model.ts';
import type { TerraUserInfo } from './ports.ts';
import { type RedirectOutcome, redirectUrl } from './redirects.ts';
import { confirmedByTerra } from './terra-truth.ts';

/**
 * `GET /callbacks/terra/{outcome}`: Terra's redirect after a login, which anyone can forge, so its
 * parameters are only hints. Either outcome asks Terra about the user and records only what Terra
 * confirms right now, by the same rule as the reconcile (terra-truth.ts): never a terminal state, never
 * clearing an `error` or `revoked` that Terra's events reported. A failure callback records nothing at
 * all: the pending record waits for Terra's own webhook or the reconcile, so a forged one cannot end a
 * login the user is about to approve. Every path ends in a redirect to a configured target.
 */
export async function completeCallback(
  deps: ConnectDeps,
  outcome: string | undefined,
  query: Record<string, string | undefined>,
): Promise<string> {
  const target = query.redirect;
  try {
    return await confirmCallback(deps, outcome, query);
  } catch (error) {
    // Even our own failure ends on a configured page, never on a bare error.
    deps.log.error('callback failed', { error: error instanceof Error ? error.name : 'unknown' });
    return redirectUrl(deps.redirects, target, 'failure', { status: 'error' });
  }
}

async function confirmCallback(
  deps: ConnectDeps,
  outcome: string | undefined,
  query: Record<string, string | undefined>,
): Promise<string> {
  const user_id =
    query.user_id !== undefined && TERRA_USER_ID.test(query.user_id) ? query.user_id : undefined;
  const resource = query.resource?.toUpperCase();
  const provider = resource !== undefined && PROVIDER_ID.test(resource) ? resource : undefined;
  const to = (result: RedirectOutcome, status: string, extra: { provider?: string; user_id?: string } = {}) =>
    redirectUrl(deps.redirects, query.redirect, result, { status, ...extra });

  if (outcome !== 'success' && outcome !== 'failure') return to('failure', 'error');
  if (outcome === 'failure') {
    return to('failure', 'cancelled', { ...(provider ? { provider } : {}), ...(user_id ? { user_id } : {}) });
  }
  if (!user_id) return to('failure', 'error');
  let user: TerraUserInfo | undefined;
  try {
    user = await confirm(deps, user_id);
  } catch (error) {
    deps.log.warn('callback could not confirm with Terra', { user_id, error: (error as Error).name });
    return to('failure', 'error', { user_id });
  }
  if (!user || user.active === false) {
    deps.log.warn('callback for a user Terra does not confirm', { user_id });
    return to('failure', 'error', { user_id });
  }
  const record = await deps.connections.get(user_id);
  const status = record ? toConnection(record).status : 'active';
  return to('success', status, { provider: user.provider, user_id });
}

/** Asks Terra about the user and applies what it confirms; answers what Terra said. */
async function confirm(deps: ConnectDeps, user_id: string): Promise<TerraUserInfo | undefined> {
  const user = await deps.terra.getUser(user_id);
  if (!user) return undefined;
  const event = confirmedByTerra(
    user,
    await deps.connections.get(user_id),
    `callback:${user_id}`,
    deps.now(),
  );
  if (event) await deps.connections.apply([event]);
  return user;
}
