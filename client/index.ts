import createClient, { type Client, type ClientOptions } from 'openapi-fetch';
import type { components, paths } from './schema.ts';

/**
 * A typed client for frontends, built with openapi-fetch on the types `npm run openapi` generates from
 * `openapi.json`: paths, parameters, bodies and answers are checked by the compiler, and a route or field
 * the API does not have does not compile. Runs wherever `fetch` does (browsers, React Native, Node 18+).
 *
 * @example
 * ```ts
 * import { createTerraConnectClient, ok } from 'terra-connect/client';
 *
 * const api = createTerraConnectClient({
 *   baseUrl: 'https://abc123.execute-api.eu-west-1.amazonaws.com', // the stack's ApiUrl output
 *   token: () => auth.currentUser.getIdToken(), // the signed-in user's JWT, asked for on every call
 * });
 * const { connections } = ok(await api.GET('/connections', { params: { query: { status: 'active' } } })).data;
 * const { url } = ok(await api.POST('/sessions', { body: { providers: ['GARMIN'] } })).data;
 * window.open(url, '_blank'); // Terra's pages: a new tab, never an iframe
 * await api.DELETE('/connections/{user_id}', { params: { path: { user_id: connections[0].user_id } } });
 * ```
 */
export type { components, operations, paths } from './schema.ts';

type Schemas = components['schemas'];
export type Connection = Schemas['Connection'];
export type ConnectionStatus = Connection['status'];
export type Backfill = Schemas['Backfill'];
export type Provider = Schemas['Provider'];
export type WidgetSession = Schemas['WidgetSession'];
export type ProviderLogin = Schemas['ProviderLogin'];
export type SdkToken = Schemas['SdkToken'];
export type Deletion = Schemas['Deletion'];
/** Our routes' errors. */
export type ErrorBody = Schemas['ErrorBody'];
/** What API Gateway answers before a function runs (no or a refused token, throttled, no route). */
export type GatewayError = Schemas['GatewayError'];

export type TerraConnectClient = Client<paths>;

export interface TerraConnectClientOptions {
  /** The stack's `ApiUrl` output (its CORS must allow your origin); `''` for the page's own origin. */
  baseUrl: string;
  /** The signed-in user's JWT, or a function answering it: called for every request, so a refreshed token is used at once. */
  token: string | (() => string | Promise<string>);
  /** A `fetch` of your own (tests, instrumentation); the global one by default. */
  fetch?: ClientOptions['fetch'];
}

export function createTerraConnectClient(options: TerraConnectClientOptions): TerraConnectClient {
  const client = createClient<paths>({
    baseUrl: options.baseUrl,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const token = options.token;
  const home = originOf(options.baseUrl);
  client.use({
    async onRequest({ request }) {
      // A call given a baseUrl of its own elsewhere must not carry the user's token there.
      if (originOf(request.url) !== home) return request;
      request.headers.set('authorization', `Bearer ${typeof token === 'string' ? token : await token()}`);
      return request;
    },
  });
  return client;
}

/** The origin a URL points at, relative URLs read against the page's own; undefined where there is no page. */
function originOf(url: string): string | undefined {
  try {
    return new URL(url, (globalThis as { location?: { href: string } }).location?.href).origin;
  } catch {
    return undefined;
  }
}

/** An error answer, whichever shape it came in. A `401` always means "sign in again". */
export class TerraConnectError extends Error {
  constructor(
    readonly status: number,
    /** `error.code` of our routes; for API Gateway's own answers `unauthorized` (401) or `http_<status>`. */
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'TerraConnectError';
  }
}

/** Reads `{error: {code, message}}` (our routes) or `{message}` (API Gateway) into one error. */
export function errorOf(status: number, body: unknown): TerraConnectError {
  const { error, message } = (typeof body === 'object' && body !== null ? body : {}) as Partial<
    ErrorBody & GatewayError
  >;
  const code = error?.code ?? (status === 401 ? 'unauthorized' : `http_${status}`);
  return new TerraConnectError(status, code, error?.message ?? message ?? `HTTP ${status}`);
}

/** The successful answer of a call, whose `data` is then typed without its error cases; an error answer throws. */
export function ok<R extends { error?: unknown; response: Response }>(
  result: R,
): Extract<R, { error?: never }> {
  if (!result.response.ok) throw errorOf(result.response.status, result.error);
  return result as Extract<R, { error?: never }>;
}
