import {
  createTerraConnectClient,
  type Deletion,
  errorOf,
  ok,
  type TerraConnectClient,
  TerraConnectError,
} from '#client/index';

/**
 * How a web frontend calls terra-connect: through the typed client (`client/`, generated from
 * `openapi.json`), which sends the signed-in user's JWT as a Bearer token on every call and whose paths,
 * bodies and answers the compiler checks. The caller's identity comes from the token only; no body ever
 * names the user. The page calls the client directly (`ok(await api.GET('/providers'))`); what needs more
 * than one line is here.
 */
export type { Backfill, Connection, Deletion, Provider, TerraConnectClient } from '#client/index';
export { ok, TerraConnectError as ApiError };

/** Same origin here. In your app: the `ApiUrl` output of the deployed stack (its CORS must allow you). */
const API_URL = '';

/** The API as the signed-in user: `token` is asked for on every call, so a new sign-in takes effect at once. */
export const apiFor = (token: () => string): TerraConnectClient =>
  createTerraConnectClient({ baseUrl: API_URL, token });

/**
 * Local mode only, and not part of the API (nor of its document): a token for any user name. In your app
 * the token comes from your identity provider (Cognito, Auth0, Clerk…) and its `sub` claim is the Terra
 * `reference_id`.
 */
export async function devToken(sub: string): Promise<string> {
  const response = await fetch(`${API_URL}/dev/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sub }),
  });
  const json: unknown = await response.json();
  if (!response.ok) throw errorOf(response.status, json);
  return (json as { token: string }).token;
}

/**
 * "Delete my account": deauthenticates every connection of the signed-in user at Terra, replaces them
 * by tombstones and deletes every delivery and archived payload. `done` when it finished inside the
 * request (204, no body: `getDeletion` has the counts); else `running`, with the deletion as it stands
 * and `retryAfter`, the seconds until the backend expects to be done (a last sweep for late data).
 * Follow it with `getDeletion` until it is done; when it is, your app hears `terra.user_deleted`.
 */
export async function deleteAccount(
  api: TerraConnectClient,
): Promise<{ status: 'done' } | { status: 'running'; deletion: Deletion; retryAfter: number }> {
  const { data, response } = ok(await api.DELETE('/me'));
  if (data === undefined) return { status: 'done' };
  const retryAfter = Number(response.headers.get('retry-after'));
  return {
    status: 'running',
    deletion: data,
    retryAfter: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : 1,
  };
}

/** The signed-in user's latest deletion (`GET /me/deletion`), or null when they never started one (404). */
export async function getDeletion(api: TerraConnectClient): Promise<Deletion | null> {
  const result = await api.GET('/me/deletion');
  if (result.response.status === 404) return null;
  return ok(result).data;
}
