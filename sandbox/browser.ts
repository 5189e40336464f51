import type { ServerResponse } from 'node:http';
import { findProvider, iconSvg, type Provider, webProviders } from './catalogue.ts';
import type { SandboxContext } from './context.ts';
import type { LoginFlow } from './flows.ts';
import { formBody, redirect, SandboxHttpError, type SandboxRequest, sendText } from './http.ts';
import { approve, cancel, DEFAULT_ACCOUNT } from './lifecycle.ts';
import { indexPage, loginPage, messagePage, resultPage, widgetPage } from './pages.ts';

/**
 * The pages a user's browser visits: the widget, the fake provider login, and the redirect back to the
 * developer's app. Answers `false` for paths that are not pages.
 */
const HTML = 'text/html; charset=utf-8';

function sendPage(response: ServerResponse, status: number, html: string): void {
  sendText(response, status, HTML, html);
}

/** Terra appends these to the developer's redirect URL, keeping any query it already has. */
export function withConnectionParams(target: string, flow: LoginFlow): string {
  const url = new URL(target);
  url.searchParams.set('user_id', flow.user_id);
  url.searchParams.set('resource', flow.provider);
  // Terra writes a missing reference_id as the string "null" (see the example URL in "Connect a User").
  url.searchParams.set('reference_id', flow.reference_id ?? 'null');
  return url.toString();
}

function widget(
  context: SandboxContext,
  response: ServerResponse,
  sessionId: string,
  providerId?: string,
): void {
  const session = context.flows.session(sessionId);
  if (!session) {
    sendPage(response, 410, messagePage('Link expired', 'This connection link is unknown or has expired.'));
    return;
  }
  const offered = webProviders().filter(
    (provider) => session.providers === null || session.providers.includes(provider.provider),
  );
  if (providerId === undefined) {
    sendPage(response, 200, widgetPage({ sessionId, providers: offered, language: session.language }));
    return;
  }
  const provider = offered.find((candidate) => candidate.provider === providerId);
  if (!provider) {
    sendPage(response, 404, messagePage('Not offered', `${providerId} is not offered in this session.`));
    return;
  }
  const flow = context.flows.startFlow({
    provider: provider.provider,
    reference_id: session.reference_id,
    language: session.language,
    widget_session_id: session.session_id,
    auth_success_redirect_url: session.auth_success_redirect_url,
    auth_failure_redirect_url: session.auth_failure_redirect_url,
  });
  redirect(response, `/connect/${flow.flow_id}`);
}

function openFlow(context: SandboxContext, response: ServerResponse, flowId: string) {
  const flow = context.flows.flow(flowId);
  const provider = flow && findProvider(flow.provider);
  if (!flow || !provider || flow.expires_at <= Date.now()) {
    sendPage(response, 410, messagePage('Link expired', 'This sign-in link is unknown or has expired.'));
    return undefined;
  }
  if (flow.state !== 'open') {
    sendPage(response, 410, messagePage('Link used', 'This sign-in link has already been used.'));
    return undefined;
  }
  return { flow, provider };
}

function decide(
  context: SandboxContext,
  request: SandboxRequest,
  response: ServerResponse,
  flow: LoginFlow,
  provider: Provider,
): void {
  const form = formBody(request);
  const approved = form.get('decision') === 'approve';
  const common = { provider, userId: flow.user_id, referenceId: flow.reference_id, language: flow.language };
  if (approved) {
    try {
      approve(context, {
        provider,
        account: form.get('account') ?? DEFAULT_ACCOUNT,
        reference_id: flow.reference_id,
        user_id: flow.user_id,
        widget_session_id: flow.widget_session_id,
      });
    } catch (error) {
      // The user limit: shown as a page, and the link stays open for a retry once a user was removed.
      if (!(error instanceof SandboxHttpError)) throw error;
      sendPage(response, error.status, messagePage('Cannot connect', error.message));
      return;
    }
    flow.state = 'approved';
    if (flow.auth_success_redirect_url)
      redirect(response, withConnectionParams(flow.auth_success_redirect_url, flow));
    else sendPage(response, 200, resultPage({ outcome: 'connected', ...common }));
    return;
  }
  flow.state = 'cancelled';
  cancel(context, flow);
  if (flow.auth_failure_redirect_url)
    redirect(response, withConnectionParams(flow.auth_failure_redirect_url, flow));
  else sendPage(response, 200, resultPage({ outcome: 'cancelled', ...common }));
}

export function handlePage(
  context: SandboxContext,
  request: SandboxRequest,
  response: ServerResponse,
): boolean {
  const { pathname } = request.url;
  const get = request.method === 'GET' || request.method === 'HEAD';
  if (get && pathname === '/') {
    sendPage(response, 200, indexPage({ url: context.url, apiUrl: `${context.url}/api/v2` }));
    return true;
  }
  const icon = /^\/static\/icons\/([a-z_]+)\.svg$/.exec(pathname);
  if (get && icon?.[1]) {
    const provider = findProvider(icon[1]);
    if (!provider) return false;
    sendText(response, 200, 'image/svg+xml', iconSvg(provider));
    return true;
  }
  const session = /^\/widget\/session\/([\w-]+)(?:\/connect\/([A-Z_]+))?$/.exec(pathname);
  if (get && session?.[1]) {
    widget(context, response, session[1], session[2]);
    return true;
  }
  const login = /^\/connect\/([\w-]+)$/.exec(pathname);
  if (login?.[1] && (get || request.method === 'POST')) {
    const open = openFlow(context, response, login[1]);
    if (!open) return true;
    if (get) sendPage(response, 200, loginPage({ ...open, action: pathname }));
    else decide(context, request, response, open.flow, open.provider);
    return true;
  }
  return false;
}
