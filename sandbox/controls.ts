import type { ServerResponse } from 'node:http';
import * as z from 'zod';
import { DATA_ENDPOINT_TYPES, isDataEndpointType } from '#shared/terra/data-types';
import { findProvider } from './catalogue.ts';
import type { SandboxContext } from './context.ts';
import {
  badRequest,
  invalidInput,
  jsonBody,
  notFound,
  parseWith,
  type SandboxRequest,
  sendJson,
} from './http.ts';
import { approve, DEFAULT_ACCOUNT, fireEvent } from './lifecycle.ts';
import { isUserEventType, USER_EVENT_TYPES } from './payloads.ts';
import { applyPatch, type SandboxSettings } from './settings.ts';
import { toTerraUser } from './users.ts';

/**
 * `/sandbox/*`: levers for tests and the demo page that Terra itself does not have (a user approving a
 * login, a provider revoking access, data arriving). Local-only, so no credentials; CORS is open so a demo
 * page served from another local port can call them.
 */
export const CONTROLS_PREFIX = '/sandbox';

export const CORS: Record<string, string> = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, OPTIONS',
  'access-control-allow-headers': 'content-type',
};

const newUser = z.object({
  reference_id: z.string().min(1).max(2048).nullish(),
  provider: z.string().min(1).max(64),
  account: z.string().max(256).optional(),
});

const scopeChange = z.object({
  scopes_added: z.string().max(4096).optional(),
  scopes_removed: z.string().max(4096).optional(),
});

// Up to 50 MB: well past any s3_payload threshold, and still quick to build and serve locally.
const padding = z.object({ bytes: z.int().min(1).max(50_000_000).optional() });

function connectUser(context: SandboxContext, request: SandboxRequest): { user_id: string } {
  const body = parseWith(newUser, jsonBody(request));
  const provider = findProvider(body.provider);
  if (!provider) throw badRequest(`unknown provider ${body.provider}`);
  // SDK-only providers are allowed here: this stands in for the mobile SDK's initConnection too.
  if (!provider.enabled) throw badRequest(`${provider.provider} is not enabled for this developer`);
  const user = approve(context, {
    provider,
    account: body.account ?? DEFAULT_ACCOUNT,
    reference_id: body.reference_id ?? null,
  });
  return { user_id: user.user_id };
}

function userEvent(
  context: SandboxContext,
  request: SandboxRequest,
  userId: string,
  type: string,
): { trace_id: string } {
  if (!isUserEventType(type) && !isDataEndpointType(type)) {
    const known = [...USER_EVENT_TYPES, ...DATA_ENDPOINT_TYPES].join(', ');
    throw badRequest(`unknown event type ${type}; one of ${known}`);
  }
  const user = context.users.get(userId);
  if (!user) throw notFound(`no sandbox user ${userId}`);
  const body = jsonBody(request);
  const change = type === 'permission_change' ? parseWith(scopeChange, body) : {};
  const { bytes } = parseWith(padding, body);
  // Padding adds samples, which only the dated data types have.
  if (bytes !== undefined && (!isDataEndpointType(type) || type === 'athlete'))
    throw badRequest(`bytes pads data events with samples; ${type} has none`);
  const provider = findProvider(user.provider);
  const options = { ...change, ...(provider ? { provider } : {}), ...(bytes ? { bytes } : {}) };
  return { trace_id: fireEvent(context, user, type, options) };
}

function patchSettings(
  context: SandboxContext,
  request: SandboxRequest,
  apply: (next: SandboxSettings) => void,
) {
  try {
    apply(applyPatch(context.settings(), jsonBody(request)));
  } catch (error) {
    throw error instanceof z.ZodError ? invalidInput(error, 'settings') : error;
  }
  return context.settings();
}

function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw badRequest(`malformed path segment ${segment}`);
  }
}

export function handleControl(
  context: SandboxContext,
  request: SandboxRequest,
  response: ServerResponse,
  replaceSettings: (next: SandboxSettings) => void,
): boolean {
  const { pathname } = request.url;
  if (pathname !== CONTROLS_PREFIX && !pathname.startsWith(`${CONTROLS_PREFIX}/`)) return false;
  const route = `${request.method} ${pathname.slice(CONTROLS_PREFIX.length)}`;
  const send = (body: unknown) => sendJson(response, 200, body, CORS);
  if (request.method === 'OPTIONS') {
    response.writeHead(204, CORS).end();
    return true;
  }
  const event = /^POST \/users\/([^/]+)\/events\/([^/]+)$/.exec(route);
  if (event?.[1] && event[2]) {
    send(userEvent(context, request, decoded(event[1]), decoded(event[2])));
    return true;
  }
  switch (route) {
    case 'POST /users':
      send(connectUser(context, request));
      return true;
    case 'GET /users':
      send({ users: context.users.list().map(toTerraUser) });
      return true;
    case 'GET /deliveries':
      send({ deliveries: context.deliverer.deliveries() });
      return true;
    case 'GET /settings':
      send(context.settings());
      return true;
    case 'POST /settings':
      send(patchSettings(context, request, replaceSettings));
      return true;
    default:
      throw notFound(`no sandbox control ${route}`);
  }
}
