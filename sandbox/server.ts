import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { API_PREFIX, API_ROUTES, type ApiRoute, isApiPath, sendAnswer } from './api.ts';
import { handlePage } from './browser.ts';
import type { SandboxContext } from './context.ts';
import { CONTROLS_PREFIX, CORS, handleControl } from './controls.ts';
import { isLoopbackHost, readRequest, SandboxHttpError, type SandboxRequest, sendError } from './http.ts';
import { handleS3 } from './s3.ts';
import type { SandboxSettings } from './settings.ts';

/**
 * The sandbox's HTTP front: Terra's API (behind credentials and injected faults), the browser pages, and the
 * local controls, in that order of precedence.
 */
function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  const text = Array.isArray(value) ? value[0] : value;
  return text === undefined || text === '' ? undefined : text;
}

/** Answers whether the request is scoped to the sandbox developer; throws 401 when credentials are wrong. */
function authenticate(context: SandboxContext, request: SandboxRequest, route: ApiRoute): boolean {
  const devId = header(request.headers, 'dev-id');
  const apiKey = header(request.headers, 'x-api-key');
  if (route.auth === 'dev-id') {
    if (devId === undefined) return false;
    if (devId !== context.devId || (apiKey !== undefined && apiKey !== context.apiKey))
      throw new SandboxHttpError(401, 'dev-id or x-api-key is not valid');
    return true;
  }
  if (devId === undefined || apiKey === undefined)
    throw new SandboxHttpError(401, 'dev-id or x-api-key headers are missing');
  if (devId !== context.devId || apiKey !== context.apiKey)
    throw new SandboxHttpError(401, 'dev-id or x-api-key is not valid');
  return true;
}

function faultApplies(settings: SandboxSettings, pathname: string): boolean {
  const { fault } = settings;
  if (!fault) return false;
  if (!fault.paths?.length) return true;
  const relative = pathname.startsWith(`${API_PREFIX}/`) ? pathname.slice(API_PREFIX.length) : pathname;
  return fault.paths.some((path) => path === relative || path === pathname);
}

async function handleApi(
  context: SandboxContext,
  request: SandboxRequest,
  response: ServerResponse,
): Promise<void> {
  const { pathname } = request.url;
  // Faults stand for trouble in front of Terra's application (an overloaded gateway, a slow network), so they
  // hit before credentials are even looked at.
  const settings = context.settings();
  if (settings.fault && faultApplies(settings, pathname)) {
    const fault = settings.fault;
    context.consumeFault();
    // Said in the log so a test (or a person) can tell which requests a fault hit.
    const effect = fault.kind === 'status' ? `status ${fault.status}` : `delay ${fault.ms} ms`;
    context.log(`sandbox fault ${effect}: ${request.method} ${request.target}`);
    if (fault.kind === 'status') {
      const headers: Record<string, string> =
        fault.retryAfterSeconds === undefined ? {} : { 'retry-after': String(fault.retryAfterSeconds) };
      throw new SandboxHttpError(fault.status, `sandbox fault: injected ${fault.status}`, headers);
    }
    if (!(await context.timers.sleep(fault.ms))) return;
  }
  const candidates = API_ROUTES.filter((route) => route.path === pathname);
  const route = candidates.find((candidate) => candidate.method === request.method);
  if (!route) {
    if (candidates.length === 0) throw new SandboxHttpError(404, `no endpoint ${pathname} in the sandbox`);
    const allowed = candidates.map((candidate) => candidate.method).join(', ');
    throw new SandboxHttpError(405, `${request.method} is not supported here; use ${allowed}`, {
      allow: allowed,
    });
  }
  const scoped = authenticate(context, request, route);
  sendAnswer(response, await route.handle(context, request, scoped));
}

export function createSandboxServer(
  context: SandboxContext,
  replaceSettings: (next: SandboxSettings) => void,
): Server {
  return createServer(async (incoming, response) => {
    const started = Date.now();
    let target = incoming.url ?? '/';
    let controls = false;
    try {
      if (!isLoopbackHost(incoming.headers.host))
        throw new SandboxHttpError(403, 'the sandbox answers only at localhost, 127.0.0.1 or [::1]');
      const request = await readRequest(incoming);
      target = request.target;
      const { pathname } = request.url;
      controls = pathname === CONTROLS_PREFIX || pathname.startsWith(`${CONTROLS_PREFIX}/`);
      if (isApiPath(pathname)) await handleApi(context, request, response);
      else if (
        !handleS3(context.payloads, request, response) &&
        !handlePage(context, request, response) &&
        !handleControl(context, request, response, replaceSettings)
      )
        throw new SandboxHttpError(404, `nothing at ${pathname}`);
    } catch (error) {
      const failure =
        error instanceof SandboxHttpError
          ? error
          : new SandboxHttpError(500, `sandbox error: ${(error as Error).message}`);
      if (controls) Object.assign(failure.headers, CORS);
      if (!response.headersSent) sendError(response, { target }, failure, context.settings().errorShape);
      else response.destroy();
    } finally {
      context.log(`${incoming.method} ${target} → ${response.statusCode} (${Date.now() - started} ms)`);
    }
  });
}
