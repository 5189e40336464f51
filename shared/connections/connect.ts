import type { ConnectConfig } from '../config.ts';
import type { CreateConnectionBody, CreateSessionBody } from '../http/bodies.ts';
import { BadRequest, NotFound } from '../http/errors.ts';
import type { Log } from '../log.ts';
import type { TerraClient, TerraUser } from '../terra/client.ts';
import { authenticatedByTerra, confirmedByTerra, goneFromTerra } from './drift.ts';
import { type ConnectionEvent, type ConnectionRecord, toConnection } from './model.ts';
import type { ProviderCatalogue } from './providers.ts';
import { listConnections } from './queries.ts';
import { callbackUrls, type Outcome, redirectTargetName, redirectUrl } from './redirects.ts';
import type { ConnectionStore } from './store.ts';
import { isTerminal } from './transitions.ts';

/**
 * The connect flows (DESIGN §1, §2, §4). Every change to a record goes through the same state machine
 * as webhooks, stamped with the time we learnt it, so a late webhook and a callback cannot disagree.
 */
export interface TerraDeps {
  terra: TerraClient;
  providers: ProviderCatalogue;
  config: ConnectConfig;
  now: () => number;
  log: Log;
}

export interface ConnectDeps extends TerraDeps {
  store: ConnectionStore;
}

const USER_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const PROVIDER = /^[A-Z0-9_]{2,40}$/;

function event(
  user_id: string,
  reference_id: string | null,
  event_id: string,
  at: number,
  change: ConnectionEvent['change'],
  provider?: string,
): ConnectionEvent {
  return { user_id, reference_id, event_id, at, change, ...(provider ? { provider } : {}) };
}

export async function startWidgetSession(
  deps: TerraDeps,
  reference_id: string,
  apiUrl: string,
  body: CreateSessionBody,
): Promise<{ session_id: string; url: string; expires_in: number; expires_at: string }> {
  const target = redirectTargetName(deps.config, body.redirect);
  const session = await deps.terra.createWidgetSession({
    reference_id,
    ...(body.providers ? { providers: body.providers } : {}),
    ...(body.language ? { language: body.language } : {}),
    ...callbackUrls(apiUrl, target),
  });
  const expires_at = new Date(deps.now() + session.expires_in * 1000).toISOString();
  return { session_id: session.session_id, url: session.url, expires_in: session.expires_in, expires_at };
}

export async function connectProvider(
  deps: ConnectDeps,
  reference_id: string,
  apiUrl: string,
  body: CreateConnectionBody,
): Promise<{ user_id: string; provider: string; auth_url: string }> {
  const provider = await deps.providers.find(body.provider);
  if (!provider) {
    throw new BadRequest(
      `body field 'provider': '${body.provider}' is not an enabled provider of this Terra account; GET /providers lists them.`,
      'unknown_provider',
    );
  }
  if (provider.sdk_only) {
    throw new BadRequest(
      `body field 'provider': ${provider.provider} connects only through Terra's mobile SDK; mint a token with POST /sdk-token and call initConnection in the app.`,
      'sdk_only_provider',
    );
  }
  const { user_id, auth_url } = await deps.terra.authenticateUser({
    resource: provider.provider,
    reference_id,
    ...(body.language ? { language: body.language } : {}),
    ...callbackUrls(apiUrl, redirectTargetName(deps.config, body.redirect)),
  });
  await deps.store.apply([
    event(user_id, reference_id, `connect:${user_id}`, deps.now(), { kind: 'pending' }, provider.provider),
  ]);
  return { user_id, provider: provider.provider, auth_url };
}

/** DELETE /connections/{user_id}: ownership by key first, Terra second, the record last. */
export async function disconnect(deps: ConnectDeps, reference_id: string, user_id: string): Promise<void> {
  const record = await deps.store.get(reference_id, user_id);
  if (!record) throw new NotFound(`No connection '${user_id}' belongs to the caller.`);
  // Terra already deleted replaced, failed and disconnected users; there is nothing left to call.
  if (!isTerminal(record.status)) await deps.terra.deauthenticateUser(user_id);
  await deps.store.apply([
    event(user_id, reference_id, `delete:${user_id}`, deps.now(), { kind: 'disconnected' }),
  ]);
}

/**
 * `GET /connections?refresh=true`: what Terra knows about the caller wins over what we missed. Each
 * user is applied on its own, so one failure does not block the rest.
 */
export async function refreshConnections(deps: ConnectDeps, reference_id: string): Promise<void> {
  const [terraUsers, stored] = await Promise.all([
    deps.terra.getUsersByReference(reference_id),
    deps.store.listByReference(reference_id),
  ]);
  const at = deps.now();
  const event_id = `refresh:${at}`;
  const byId = new Map<string, ConnectionRecord>(stored.map((record) => [record.user_id, record]));
  const listed = new Set(terraUsers.map((user) => user.user_id));
  const events = [
    ...terraUsers.map((user) => confirmedByTerra(user, byId.get(user.user_id), reference_id, event_id, at)),
    ...stored
      .filter((record) => !listed.has(record.user_id))
      .map((record) => goneFromTerra(record, event_id, at)),
  ].filter((item): item is ConnectionEvent => item !== undefined);
  const results = await Promise.allSettled(events.map((item) => deps.store.apply([item])));
  const failed = results.filter((result) => result.status === 'rejected').length;
  if (failed > 0) deps.log.warn('refresh could not apply every user', { failed, total: events.length });
}

export async function listWithRefresh(
  deps: ConnectDeps,
  reference_id: string,
  query: { status?: ConnectionRecord['status']; refresh?: boolean },
) {
  if (query.refresh) await refreshConnections(deps, reference_id);
  return listConnections(
    deps.store,
    reference_id,
    query.status === undefined ? {} : { status: query.status },
  );
}

/**
 * `GET /callbacks/terra/{outcome}`: anyone can forge this URL, so its parameters are only hints. A
 * success is recorded only as Terra confirms it; every path ends in a redirect to a configured target.
 */
export async function completeCallback(
  deps: ConnectDeps,
  outcome: string | undefined,
  query: Record<string, string | undefined>,
): Promise<string> {
  try {
    return await confirmCallback(deps, outcome, query);
  } catch (error) {
    // Even our own failure ends on a configured page, never on a bare error.
    deps.log.error('callback failed', { error: error instanceof Error ? error.name : 'unknown' });
    return redirectUrl(deps.config, query.redirect, 'failure', { status: 'error' });
  }
}

async function confirmCallback(
  deps: ConnectDeps,
  outcome: string | undefined,
  query: Record<string, string | undefined>,
): Promise<string> {
  const target = query.redirect;
  const user_id = query.user_id !== undefined && USER_ID.test(query.user_id) ? query.user_id : undefined;
  const resource = query.resource?.toUpperCase();
  const provider = resource !== undefined && PROVIDER.test(resource) ? resource : undefined;
  const to = (result: Outcome, status: string, extra: { provider?: string; user_id?: string } = {}) =>
    redirectUrl(deps.config, target, result, { status, provider: extra.provider, user_id: extra.user_id });

  if (outcome !== 'success' && outcome !== 'failure') return to('failure', 'error');
  if (outcome === 'failure') {
    if (user_id) await markCancelled(deps, user_id, query.reference_id).catch(() => undefined);
    return to('failure', 'cancelled', { ...(provider ? { provider } : {}), ...(user_id ? { user_id } : {}) });
  }
  if (!user_id) return to('failure', 'error');

  let user: TerraUser | undefined;
  try {
    user = await deps.terra.getUser(user_id);
  } catch (error) {
    deps.log.warn('callback could not confirm with Terra', { user_id, error: (error as Error).name });
    return to('failure', 'error', { user_id });
  }
  if (!user || user.active === false) {
    deps.log.warn('callback for a user Terra does not confirm', { user_id });
    return to('failure', 'error', { user_id });
  }
  const [record] = await deps.store.apply([
    authenticatedByTerra(user, user.reference_id ?? null, `callback:${user_id}`, deps.now()),
  ]);
  const status = record ? toConnection(record).status : 'active';
  return to('success', status, { provider: user.provider, user_id });
}

/**
 * A failure callback may end a pending connection, but only one that exists under the reference it
 * names and that Terra does not report as connected: a forged failure cannot touch a live connection.
 */
async function markCancelled(
  deps: ConnectDeps,
  user_id: string,
  reference_id: string | undefined,
): Promise<void> {
  if (!reference_id) return;
  const record = await deps.store.get(reference_id, user_id);
  if (record?.status !== 'pending') return;
  const user = await deps.terra.getUser(user_id);
  if (user && user.active !== false) return;
  await deps.store.apply([
    event(user_id, reference_id, `callback-failure:${user_id}`, deps.now(), {
      kind: 'auth_failed',
      reason: 'cancelled',
    }),
  ]);
}

export async function mintSdkToken(deps: TerraDeps): Promise<{ token: string; expires_in: number }> {
  return deps.terra.generateAuthToken();
}
