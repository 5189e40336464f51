import { type BackfillSummary, summarize } from '#shared/backfill/model';
import { BadRequest, NotFound } from '#shared/errors';
import type { Log } from '#shared/log';
import {
  type Connection,
  type ConnectionEvent,
  type ConnectionRecord,
  type ConnectionStatus,
  toConnection,
} from './model.ts';
import type { ConnectionRepository, SdkClaims, TerraPort } from './ports.ts';
import type { ProviderCatalogue } from './providers.ts';
import { callbackUrls, type RedirectSettings, redirectTargetName } from './redirects.ts';
import { claimUntil, needsClaim } from './sdk-claims.ts';
import { confirmedByTerra, goneFromTerra } from './terra-truth.ts';
import { isTerminal } from './transitions.ts';

/**
 * The connect flows (docs/architecture.md, "Flows"). Every change to a record goes through the same
 * state machine as webhooks, stamped with the time we learnt it, so a late webhook and a flow cannot
 * disagree. `reference_id` is always the caller's verified identity, passed in by the HTTP edge.
 */
export interface TerraDeps {
  terra: TerraPort;
  providers: ProviderCatalogue;
  redirects: RedirectSettings;
  now: () => number;
  log: Log;
}

export interface ConnectDeps extends TerraDeps {
  connections: ConnectionRepository;
}

/** `GET /connections` also reads the caller's SDK claim, for `?refresh=true`. */
export interface ListDeps extends ConnectDeps {
  claims: Pick<SdkClaims, 'live'>;
}

export interface SessionRequest {
  providers?: string[];
  language?: string;
  redirect?: string;
}

export interface ConnectRequest {
  provider: string;
  language?: string;
  redirect?: string;
}

export async function startWidgetSession(
  deps: TerraDeps,
  reference_id: string,
  apiUrl: string,
  request: SessionRequest,
): Promise<{ session_id: string; url: string; expires_in: number; expires_at: string }> {
  const target = redirectTargetName(deps.redirects, request.redirect);
  const session = await deps.terra.createWidgetSession({
    reference_id,
    ...(request.providers ? { providers: request.providers } : {}),
    ...(request.language ? { language: request.language } : {}),
    ...callbackUrls(apiUrl, target),
  });
  const expires_at = new Date(deps.now() + session.expires_in * 1000).toISOString();
  return { session_id: session.session_id, url: session.url, expires_in: session.expires_in, expires_at };
}

export async function connectProvider(
  deps: ConnectDeps,
  reference_id: string,
  apiUrl: string,
  request: ConnectRequest,
): Promise<{ user_id: string; provider: string; auth_url: string }> {
  const provider = await deps.providers.find(request.provider);
  if (!provider) {
    throw new BadRequest(
      `body field 'provider': '${request.provider}' is not an enabled provider of this Terra account; GET /providers lists them.`,
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
    ...(request.language ? { language: request.language } : {}),
    ...callbackUrls(apiUrl, redirectTargetName(deps.redirects, request.redirect)),
  });
  const pending: ConnectionEvent = {
    user_id,
    reference_id,
    provider: provider.provider,
    event_id: `connect:${user_id}`,
    at: deps.now(),
    change: { kind: 'pending' },
  };
  await deps.connections.apply([pending]);
  return { user_id, provider: provider.provider, auth_url };
}

/** DELETE /connections/{user_id}: ownership first, Terra second, the record last. */
export async function disconnect(deps: ConnectDeps, reference_id: string, user_id: string): Promise<void> {
  const record = await deps.connections.get(user_id);
  if (record?.reference_id !== reference_id)
    throw new NotFound(`No connection '${user_id}' belongs to the caller.`);
  // Terra already deleted replaced, failed and disconnected users; there is nothing left to call.
  if (!isTerminal(record.status)) await deps.terra.deauthenticateUser(user_id);
  await deps.connections.apply([
    {
      user_id,
      reference_id,
      event_id: `delete:${user_id}`,
      at: deps.now(),
      change: { kind: 'disconnected' },
    },
  ]);
}

/**
 * `GET /connections?refresh=true`: what Terra knows about the caller wins over what we missed. Each
 * user is applied on its own, so one failure does not block the rest.
 */
export async function refreshConnections(deps: ListDeps, reference_id: string): Promise<void> {
  const [terraUsers, stored] = await Promise.all([
    deps.terra.getUsersByReference(reference_id),
    deps.connections.listByReference(reference_id),
  ]);
  const at = deps.now();
  const event_id = `refresh:${at}`;
  const byId = new Map<string, ConnectionRecord>(stored.map((record) => [record.user_id, record]));
  const listed = new Set(terraUsers.map((user) => user.user_id));
  // Only users Terra files under this caller: the reference is Terra's, not the request's.
  const theirs = terraUsers.filter((user) => user.reference_id === reference_id);
  // For an SDK-only provider Terra's reference is the device's word: a user the caller has no record of
  // yet becomes theirs only under their live claim (read only when there is such a user).
  const claimed = theirs.some((user) => !byId.has(user.user_id) && needsClaim(user))
    ? await deps.claims.live(reference_id)
    : false;
  const events = [
    ...theirs.map((user) => confirmedByTerra(user, byId.get(user.user_id), event_id, at, { claimed })),
    ...stored
      .filter((record) => !listed.has(record.user_id))
      .map((record) => goneFromTerra(record, event_id, at)),
  ].filter((item): item is ConnectionEvent => item !== undefined);
  const results = await Promise.allSettled(events.map((item) => deps.connections.apply([item])));
  const failed = results.filter((result) => result.status === 'rejected').length;
  if (failed > 0) deps.log.warn('refresh could not apply every user', { failed, total: events.length });
}

/** A connection as `GET /connections` lists it: the record, and its history request when it has one. */
export type ListedConnection = Connection & { backfill?: BackfillSummary };

/** Every record of the caller, terminal ones included, newest first; `status` filters. */
export async function listConnections(
  deps: ListDeps,
  reference_id: string,
  query: { status?: ConnectionStatus; refresh?: boolean },
): Promise<{ connections: ListedConnection[] }> {
  if (query.refresh) await refreshConnections(deps, reference_id);
  const { records, plans, requests } = await deps.connections.listOwned(reference_id);
  const connections = records
    .filter((record) => query.status === undefined || record.status === query.status)
    .map((record): ListedConnection => {
      const plan = plans.find((candidate) => candidate.user_id === record.user_id);
      const connection: ListedConnection = toConnection(record);
      if (plan) {
        connection.backfill = summarize(
          plan,
          requests.filter((request) => request.user_id === record.user_id),
        );
      }
      return connection;
    })
    .sort((a, b) => b.updated_at.localeCompare(a.updated_at) || a.user_id.localeCompare(b.user_id));
  return { connections };
}

/**
 * `POST /sdk-token`: Terra's single-use token for the mobile SDK's `initConnection`, and a claim for the
 * caller that lets the SDK connection the token makes become theirs (sdk-claims.ts). The token names no
 * app user, so the claim is what ties it to the caller; it is opened once Terra answered, for the token's
 * lifetime and a grace period for the webhook.
 */
export async function mintSdkToken(
  deps: { terra: Pick<TerraPort, 'generateAuthToken'>; claims: Pick<SdkClaims, 'open'>; now: () => number },
  reference_id: string,
): Promise<{ token: string; expires_in: number }> {
  const minted = await deps.terra.generateAuthToken();
  await deps.claims.open(reference_id, claimUntil(deps.now(), minted.expires_in));
  return minted;
}
