/**
 * How a web frontend calls terra-connect. Copy this file: every app route takes the signed-in user's JWT
 * as a Bearer token, sends and receives JSON, and answers errors as `{"error": {"code", "message"}}`.
 * The caller's identity comes from the token only; no body ever names the user.
 */

/** Same origin here. In your app: the `ApiUrl` output of the deployed stack (its CORS must allow you). */
const API_URL = '';

export interface Provider {
  provider: string;
  name: string;
  icon: string | null;
  types: string[];
  /** Apple Health, Samsung Health, Health Connect: connected from the mobile SDK, never a web page. */
  sdk_only: boolean;
}

export type ConnectionStatus =
  | 'pending'
  | 'active'
  | 'error'
  | 'revoked'
  | 'failed'
  | 'disconnected'
  | 'replaced';

export interface Connection {
  user_id: string;
  provider: string;
  status: ConnectionStatus;
  scopes: string[];
  created_at: string;
  updated_at: string;
  reason?: string;
  replaced_by?: string;
  replaces?: string;
  last_webhook_update?: string;
  /** Present when the backend asked Terra for this connection's history on connect. */
  backfill?: Backfill;
}

export type BackfillStatus = 'requested' | 'receiving' | 'complete' | 'failed';

/** The history request on connect: one data request per type, each tracked until its payloads arrive. */
export interface Backfill {
  status: BackfillStatus;
  /** The days asked for (ISO dates). */
  from: string;
  to: string;
  requests: Array<{
    type: string | null;
    reference: string | null;
    status: BackfillStatus;
    /** Payloads the request delivers (null until Terra says, for a large request). */
    expected: number | null;
    received: number;
  }>;
}

/**
 * Where the signed-in user's account deletion stands (`GET /me/deletion`, and `DELETE /me` when it
 * answers 202). The counts grow while it runs; no Terra user id is ever shown.
 */
export interface Deletion {
  deletion_id: string;
  status: 'running' | 'done';
  started_at: string;
  finished_at?: string;
  /** The Terra users deauthenticated at Terra and replaced here by tombstones. */
  connections: number;
  /** The webhook delivery records deleted. */
  deliveries: number;
  /** The archived payloads (the health data Terra sent) deleted. */
  payloads: number;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** One call: the response (its status and headers) and its JSON body, if any; an error status throws. */
async function send(
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ response: Response; json: unknown }> {
  const response = await fetch(`${API_URL}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  const json: unknown = text ? JSON.parse(text) : undefined;
  if (!response.ok) throw toApiError(response.status, json);
  return { response, json };
}

async function call<T>(token: string, method: string, path: string, body?: unknown): Promise<T> {
  return (await send(token, method, path, body)).json as T;
}

/**
 * Our routes answer `{error: {code, message}}`; API Gateway itself answers `{message}` (a missing or
 * expired token: 401 Unauthorized).
 */
function toApiError(status: number, json: unknown): ApiError {
  const body = (json ?? {}) as { error?: { code?: string; message?: string }; message?: string };
  const code = body.error?.code ?? (status === 401 ? 'unauthorized' : `http_${status}`);
  return new ApiError(status, code, body.error?.message ?? body.message ?? `HTTP ${status}`);
}

/**
 * Local mode only: a token for any user name. In your app the token comes from your identity provider
 * (Cognito, Auth0, Clerk…) and its `sub` claim is the Terra `reference_id`.
 */
export async function devToken(sub: string): Promise<string> {
  const response = await fetch(`${API_URL}/dev/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sub }),
  });
  const json: unknown = await response.json();
  if (!response.ok) throw toApiError(response.status, json);
  return (json as { token: string }).token;
}

/** What can be connected (Terra's enabled integrations). */
export async function listProviders(token: string): Promise<Provider[]> {
  return (await call<{ providers: Provider[] }>(token, 'GET', '/providers')).providers;
}

/** Every connection of the signed-in user, terminal ones (replaced, disconnected…) included. */
export async function listConnections(token: string): Promise<Connection[]> {
  return (await call<{ connections: Connection[] }>(token, 'GET', '/connections')).connections;
}

/**
 * Terra's widget: the user picks a provider there. Open `url` in a new tab (or an in-app browser on
 * mobile), never in an iframe or WebView: providers refuse to log in inside one.
 */
export function startWidgetSession(
  token: string,
  providers?: string[],
): Promise<{ session_id: string; url: string; expires_in: number; expires_at: string }> {
  return call(token, 'POST', '/sessions', providers ? { providers } : {});
}

/** Custom UI: your own provider buttons. Stores a `pending` connection at once; open `auth_url` in a new tab. */
export function connectProvider(
  token: string,
  provider: string,
): Promise<{ user_id: string; provider: string; auth_url: string }> {
  return call(token, 'POST', '/connections', { provider });
}

/** Deauthenticates at Terra; the connection turns `disconnected`. Answers 204, no body. */
export async function disconnect(token: string, userId: string): Promise<void> {
  await call<undefined>(token, 'DELETE', `/connections/${encodeURIComponent(userId)}`);
}

/**
 * "Delete my account": deauthenticates every connection of the signed-in user at Terra, replaces them
 * by tombstones and deletes every delivery and archived payload. `done` when it finished inside the
 * request (204, no body: `getDeletion` has the counts); else `running`, with the deletion as it stands
 * and `retryAfter`, the seconds until the backend expects to be done (a last sweep for late data).
 * Follow it with `getDeletion` until it is done; when it is, your app hears `terra.user_deleted`.
 */
export async function deleteAccount(
  token: string,
): Promise<{ status: 'done' } | { status: 'running'; deletion: Deletion; retryAfter: number }> {
  const { response, json } = await send(token, 'DELETE', '/me');
  if (response.status === 204) return { status: 'done' };
  const retryAfter = Number(response.headers.get('retry-after'));
  return {
    status: 'running',
    deletion: json as Deletion,
    retryAfter: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : 1,
  };
}

/** The signed-in user's latest deletion (`GET /me/deletion`), or null when they never started one (404). */
export async function getDeletion(token: string): Promise<Deletion | null> {
  try {
    return await call<Deletion>(token, 'GET', '/me/deletion');
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}
