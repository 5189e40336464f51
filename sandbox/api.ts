import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import * as z from 'zod';
import { DATA_ENDPOINT_TYPES } from '#shared/terra/data-types';
import { detailedIntegrations, findProvider, isSdkOnly, PROVIDERS, type Provider } from './catalogue.ts';
import type { SandboxContext } from './context.ts';
import { dataRequest } from './data.ts';
import { SESSION_TTL_SECONDS } from './flows.ts';
import {
  badRequest,
  jsonBody,
  notFound,
  parseWith,
  requiredParam,
  SandboxHttpError,
  type SandboxRequest,
  sendJson,
} from './http.ts';
import { deauthenticate, ensureRoomForNewUser } from './lifecycle.ts';
import { toTerraUser } from './users.ts';

/**
 * Terra's REST API (v2-bundled.yaml `paths:`) and the new widget-session API (widget-bundled.yaml), with
 * Terra's paths, bodies and answers. Credentials, faults and error shapes are handled around these in
 * server.ts; a handler only says what Terra would answer.
 */
export const API_PREFIX = '/api/v2';
/** The docs write `/api/widget/session`, Terra's own bundle `/widget/api/session`; both are served. */
export const WIDGET_SESSION_PATHS = ['/api/widget/session', '/widget/api/session'] as const;

type Answer = { status: number; body: unknown };

export interface ApiRoute {
  method: string;
  /** Full path, e.g. `/api/v2/userInfo`. */
  path: string;
  /**
   * `keys`: dev-id and x-api-key required. `dev-id`: Terra serves the integrations catalogue publicly, scoped
   * to the developer when a dev-id is sent (rules/auth-integrations-endpoint-headers.md).
   */
  auth: 'keys' | 'dev-id';
  handle(context: SandboxContext, request: SandboxRequest, scoped: boolean): Answer | Promise<Answer>;
}

// Terra accepts absent or null for every optional body field.
const optionalText = z.string().max(2048).nullish();
const redirectUrl = z
  .string()
  .max(2048)
  .refine((value) => URL.canParse(value), 'must be an absolute URL (https://… or an app deep link)')
  .nullish();

const connectBody = z.object({
  language: optionalText,
  reference_id: optionalText,
  auth_success_redirect_url: redirectUrl,
  auth_failure_redirect_url: redirectUrl,
});

const widgetBody = connectBody.extend({ providers: optionalText });

/** A provider the login pages can connect, or a 400 that says why not. */
function connectableProvider(id: string): Provider {
  const provider = findProvider(id);
  if (!provider) throw badRequest(`unknown resource ${id}; GET /integrations/detailed lists the providers`);
  if (isSdkOnly(provider))
    throw badRequest(`${provider.provider} connects only through Terra's mobile SDK (generateAuthToken)`);
  if (!provider.enabled) throw badRequest(`${provider.provider} is not enabled for this developer`);
  return provider;
}

const redirects = (body: z.infer<typeof connectBody>) => ({
  auth_success_redirect_url: body.auth_success_redirect_url ?? null,
  auth_failure_redirect_url: body.auth_failure_redirect_url ?? null,
});

function authenticateUser(context: SandboxContext, request: SandboxRequest): Answer {
  const resource = request.url.searchParams.get('resource');
  if (!resource) throw badRequest('the resource query parameter is required, e.g. ?resource=GARMIN');
  const provider = connectableProvider(resource);
  const body = parseWith(connectBody, jsonBody(request));
  // Every link may become a new user, so at the limit Terra hands out none.
  ensureRoomForNewUser(context);
  const flow = context.flows.startFlow({
    provider: provider.provider,
    reference_id: body.reference_id ?? null,
    language: body.language ?? null,
    widget_session_id: null,
    ...redirects(body),
  });
  return {
    status: 200,
    body: { status: 'success', user_id: flow.user_id, auth_url: `${context.url}/connect/${flow.flow_id}` },
  };
}

function widgetSession(context: SandboxContext, request: SandboxRequest): Answer {
  const body = parseWith(widgetBody, jsonBody(request));
  const ids = (body.providers ?? '')
    .split(',')
    .map((id) => id.trim())
    .filter((id) => id !== '');
  const providers = ids.length ? [...new Set(ids.map((id) => connectableProvider(id).provider))] : null;
  ensureRoomForNewUser(context);
  const session = context.flows.createSession({
    providers,
    language: body.language ?? null,
    reference_id: body.reference_id ?? null,
    ...redirects(body),
  });
  return {
    status: 200,
    body: {
      session_id: session.session_id,
      url: `${context.url}/widget/session/${session.session_id}`,
      status: 'success',
      expires_in: SESSION_TTL_SECONDS,
    },
  };
}

function legacyWidgetSession(context: SandboxContext, request: SandboxRequest): Answer {
  if (context.settings().legacyWidget === 'gone') {
    throw new SandboxHttpError(
      410,
      'POST /auth/generateWidgetSession is not available to accounts created after 2026-09-03; ' +
        'use POST https://access.tryterra.co/api/widget/session',
    );
  }
  return widgetSession(context, request);
}

function deauthenticateUser(context: SandboxContext, request: SandboxRequest): Answer {
  if (deauthenticate(context, requiredParam(request, 'user_id')) === undefined)
    throw notFound('user not found');
  return { status: 200, body: { status: 'success' } };
}

function userInfo(context: SandboxContext, request: SandboxRequest): Answer {
  const { searchParams } = request.url;
  const userId = searchParams.get('user_id');
  if (userId) {
    const user = context.users.get(userId);
    if (!user) throw notFound('user not found');
    return {
      status: 200,
      body: {
        user: {
          ...toTerraUser(user),
          last_polled_at: user.last_polled_at,
          most_recent_data_at: user.most_recent_data_at,
        },
        status: 'success',
        is_authenticated: user.active,
      },
    };
  }
  const referenceId = searchParams.get('reference_id');
  if (!referenceId) throw badRequest('send user_id or reference_id as a query parameter');
  const users = context.users.byReference(referenceId).map(toTerraUser);
  return { status: 200, body: context.settings().userInfoListShape === 'users' ? { users } : users };
}

function nonNegativeInt(request: SandboxRequest, name: string, fallback: number): number {
  const raw = request.url.searchParams.get(name);
  if (raw === null || raw === '') return fallback;
  if (!/^\d{1,9}$/.test(raw)) throw badRequest(`${name} must be a non-negative integer, got ${raw}`);
  return Number(raw);
}

function subscriptions(context: SandboxContext, request: SandboxRequest): Answer {
  const users = context.users.list().map(toTerraUser);
  // Without `page` Terra answers every user at once, for backwards compatibility.
  if (!request.url.searchParams.has('page')) return { status: 200, body: { users } };
  const page = nonNegativeInt(request, 'page', 0);
  const perPage = nonNegativeInt(request, 'per_page', 500);
  if (perPage === 0) throw badRequest('per_page must be at least 1');
  const maxPage = Math.max(0, Math.ceil(users.length / perPage) - 1);
  const results = users.slice(page * perPage, (page + 1) * perPage);
  return {
    status: 200,
    body: { data: { next: page < maxPage ? page + 1 : null, max_page: maxPage, results } },
  };
}

function integrationsDetailed(context: SandboxContext, request: SandboxRequest, scoped: boolean): Answer {
  const sdk = ['true', '1'].includes(request.url.searchParams.get('sdk')?.toLowerCase() ?? '');
  return {
    status: 200,
    body: { status: 'success', providers: detailedIntegrations({ baseUrl: context.url, sdk, scoped }) },
  };
}

function integrations(): Answer {
  const ids = (sdk: boolean) => PROVIDERS.filter((p) => isSdkOnly(p) === sdk).map((p) => p.provider);
  return { status: 200, body: { providers: ids(false), sdk_providers: ids(true), status: 'success' } };
}

function generateAuthToken(): Answer {
  // Single-use token for the mobile SDK's initConnection; valid for 180 s at Terra.
  return {
    status: 200,
    body: { status: 'success', token: randomBytes(32).toString('hex'), expires_in: 180 },
  };
}

const v2 = (path: string) => `${API_PREFIX}${path}`;

export const API_ROUTES: readonly ApiRoute[] = [
  { method: 'POST', path: v2('/auth/authenticateUser'), auth: 'keys', handle: authenticateUser },
  { method: 'POST', path: v2('/auth/generateWidgetSession'), auth: 'keys', handle: legacyWidgetSession },
  { method: 'DELETE', path: v2('/auth/deauthenticateUser'), auth: 'keys', handle: deauthenticateUser },
  { method: 'POST', path: v2('/auth/generateAuthToken'), auth: 'keys', handle: generateAuthToken },
  { method: 'GET', path: v2('/userInfo'), auth: 'keys', handle: userInfo },
  { method: 'GET', path: v2('/subscriptions'), auth: 'keys', handle: subscriptions },
  { method: 'GET', path: v2('/integrations/detailed'), auth: 'dev-id', handle: integrationsDetailed },
  { method: 'GET', path: v2('/integrations'), auth: 'dev-id', handle: integrations },
  ...DATA_ENDPOINT_TYPES.map((type) => ({
    method: 'GET',
    path: v2(`/${type}`),
    auth: 'keys' as const,
    handle: (context: SandboxContext, request: SandboxRequest) => dataRequest(context, request, type),
  })),
  ...WIDGET_SESSION_PATHS.map((path) => ({
    method: 'POST',
    path,
    auth: 'keys' as const,
    handle: widgetSession,
  })),
];

export const isApiPath = (path: string): boolean =>
  path === API_PREFIX ||
  path.startsWith(`${API_PREFIX}/`) ||
  (WIDGET_SESSION_PATHS as readonly string[]).includes(path);

export function sendAnswer(response: ServerResponse, answer: Answer): void {
  sendJson(response, answer.status, answer.body);
}
