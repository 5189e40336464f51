import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { TerraClient } from 'terra-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, type SandboxOptions, startSandbox } from '#sandbox/sandbox';
import { DATA_ENDPOINT_TYPES } from '#shared/terra/data-types';
import { verifySignature } from '#shared/terra/signature';
import { type Received, type Receiver, startReceiver } from './receiver.ts';

/** The Terra sandbox over real HTTP: Terra's REST API, the browser pages, the controls and the webhooks. */
const SECRET = 'sandbox-test-secret';
const KEYS = { 'dev-id': 'local-dev-id', 'x-api-key': 'local-api-key' };
const FAST_RETRIES = [50, 100, 200];
const run = promisify(execFile);

let sandbox: Sandbox;
let receiver: Receiver;

beforeAll(async () => {
  receiver = await startReceiver();
  sandbox = await startSandbox({
    port: 0,
    signingSecret: SECRET,
    webhookUrl: receiver.url,
    retryScheduleMs: FAST_RETRIES,
    deliveryTimeoutMs: 1000,
  });
});
afterAll(async () => {
  await sandbox?.stop();
  await receiver?.close();
});

/** A fresh sandbox and receiver for tests that change settings or count every delivery. */
async function isolated(
  options: SandboxOptions,
  run: (sandbox: Sandbox, receiver: Receiver) => Promise<void>,
): Promise<void> {
  const ownReceiver = await startReceiver();
  const own = await startSandbox({
    port: 0,
    signingSecret: SECRET,
    webhookUrl: ownReceiver.url,
    retryScheduleMs: FAST_RETRIES,
    ...options,
  });
  try {
    await run(own, ownReceiver);
  } finally {
    await own.stop();
    await ownReceiver.close();
  }
}

const newReference = () => `app-user-${randomUUID().slice(0, 8)}`;

interface Call {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  on?: Sandbox;
}

/** A Terra API call with the sandbox's credentials, unless `headers` replaces them. */
function terra(path: string, call: Call = {}): Promise<Response> {
  const target = call.on ?? sandbox;
  return fetch(`${target.apiUrl}${path}`, {
    method: call.method ?? 'GET',
    headers: { 'content-type': 'application/json', ...(call.headers ?? KEYS) },
    ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
  });
}

function control(path: string, body?: unknown, on: Sandbox = sandbox): Promise<Response> {
  return fetch(`${on.url}/sandbox${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function json<T = Record<string, unknown>>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

async function connectUser(reference_id: string | null, provider: string, account?: string, on = sandbox) {
  const response = await control('/users', { reference_id, provider, ...(account ? { account } : {}) }, on);
  expect(response.status).toBe(200);
  return (await json<{ user_id: string }>(response)).user_id;
}

async function authenticateUser(resource: string, body: Record<string, unknown>, on = sandbox) {
  const response = await terra(`/auth/authenticateUser?resource=${resource}`, { method: 'POST', body, on });
  expect(response.status).toBe(200);
  return json<{ status: string; user_id: string; auth_url: string }>(response);
}

/** Opens a login page, checks its contract, and submits it like a browser would. */
async function submitLogin(loginUrl: string, decision: 'approve' | 'cancel', account?: string) {
  const page = await fetch(loginUrl);
  expect(page.status).toBe(200);
  const html = await page.text();
  for (const id of ['account', 'approve', 'cancel']) expect(html).toContain(`id="${id}"`);
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  expect(action).toBeDefined();
  return fetch(new URL(action ?? '', loginUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ account: account ?? 'demo-account', decision }),
    redirect: 'manual',
  });
}

async function until(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function verifies(received: Received, secret = SECRET): boolean {
  const header = received.headers['terra-signature'];
  return verifySignature({
    header: typeof header === 'string' ? header : undefined,
    rawBody: received.raw,
    secrets: [secret],
    nowSeconds: Math.floor(Date.now() / 1000),
    toleranceSeconds: 300,
  }).ok;
}

const idOf = (user: unknown) => (user as { user_id?: string } | null | undefined)?.user_id;
const userOf = (received: Received) => received.body.user as Record<string, unknown> | undefined;
const forUser = (userId: string, type: string) => (received: Received) =>
  received.body.type === type && userOf(received)?.user_id === userId;

describe('credentials', () => {
  it('answers 401 as RFC 9457 problem+json when dev-id or x-api-key is missing or wrong', async () => {
    const missing = await terra('/subscriptions', { headers: {} });
    expect(missing.status).toBe(401);
    expect(missing.headers.get('content-type')).toBe('application/problem+json');
    expect(await missing.json()).toEqual({
      type: 'about:blank',
      title: 'unauthorized',
      detail: 'dev-id or x-api-key headers are missing',
      instance: '/api/v2/subscriptions',
    });

    const wrong = await terra('/userInfo?reference_id=x', { headers: { ...KEYS, 'x-api-key': 'nope' } });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({
      title: 'unauthorized',
      instance: '/api/v2/userInfo?reference_id=x',
    });
  });

  it('checks credentials on both widget-session paths', async () => {
    for (const path of ['/api/widget/session', '/widget/api/session']) {
      const response = await fetch(`${sandbox.url}${path}`, { method: 'POST', body: '{}' });
      expect(response.status).toBe(401);
    }
  });

  it('answers the legacy {status, message} shape when told to', async () => {
    await isolated({ errorShape: 'message' }, async (own) => {
      const response = await terra('/subscriptions', { headers: { 'dev-id': 'local-dev-id' }, on: own });
      expect(response.status).toBe(401);
      expect(response.headers.get('content-type')).toBe('application/json');
      expect(await response.json()).toEqual({
        status: 'error',
        message: 'dev-id or x-api-key headers are missing',
      });
    });
  });

  it('uses the same shapes for bad input (400) and unknown things (404)', async () => {
    const bad = await terra('/auth/authenticateUser', { method: 'POST', body: {} });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ type: 'about:blank', title: 'bad request' });
    const unknown = await terra(`/userInfo?user_id=${randomUUID()}`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ title: 'not found', detail: 'user not found' });
  });
});

describe('authenticateUser and the provider login', () => {
  it('approves into a 302 with user_id, resource and reference_id, and a signed auth webhook', async () => {
    const reference_id = newReference();
    const link = await authenticateUser('GARMIN', {
      reference_id,
      language: 'en',
      auth_success_redirect_url: 'https://app.example/connected?tab=devices',
      auth_failure_redirect_url: 'https://app.example/failed',
    });
    expect(link).toMatchObject({ status: 'success', user_id: expect.any(String) });
    const loginPage = await (await fetch(link.auth_url)).text();
    expect(loginPage).toContain('Garmin');
    expect(loginPage).toContain('Account name');

    const answer = await submitLogin(link.auth_url, 'approve');
    expect(answer.status).toBe(302);
    const location = new URL(answer.headers.get('location') ?? '');
    expect(`${location.origin}${location.pathname}`).toBe('https://app.example/connected');
    expect(Object.fromEntries(location.searchParams)).toEqual({
      tab: 'devices',
      user_id: link.user_id,
      resource: 'GARMIN',
      reference_id,
    });

    const auth = await receiver.waitFor(forUser(link.user_id, 'auth'));
    expect(verifies(auth)).toBe(true);
    expect(auth.headers['x-terra-signature']).toBe(auth.headers['terra-signature']);
    expect(auth.headers['x-terra-trace-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(auth.headers['x-terra-ordering-timestamp'])).toBeGreaterThan(Date.now() - 60_000);
    expect(auth.body).toMatchObject({
      type: 'auth',
      status: 'success',
      reference_id,
      user: {
        user_id: link.user_id,
        provider: 'GARMIN',
        scopes: 'ACTIVITY_EXPORT,HEALTH_EXPORT',
        reference_id,
        active: true,
        last_webhook_update: null,
      },
    });
    expect(auth.body).not.toHaveProperty('widget_session_id');

    const info = await json(await terra(`/userInfo?user_id=${link.user_id}`));
    expect(info).toMatchObject({
      status: 'success',
      is_authenticated: true,
      user: { user_id: link.user_id },
    });
  });

  it('cancels into the failure URL and an auth_cancelled webhook, creating no user', async () => {
    const reference_id = newReference();
    const link = await authenticateUser('OURA', {
      reference_id,
      auth_success_redirect_url: 'https://app.example/ok',
      auth_failure_redirect_url: 'myapp://terra/failed',
    });
    const answer = await submitLogin(link.auth_url, 'cancel');
    expect(answer.status).toBe(302);
    const location = new URL(answer.headers.get('location') ?? '');
    expect(location.protocol).toBe('myapp:');
    expect(Object.fromEntries(location.searchParams)).toEqual({
      user_id: link.user_id,
      resource: 'OURA',
      reference_id,
    });

    const cancelled = await receiver.waitFor(
      (received) => received.body.type === 'auth_cancelled' && received.body.reference_id === reference_id,
    );
    expect(verifies(cancelled)).toBe(true);
    expect(cancelled.body).toEqual({
      type: 'auth_cancelled',
      status: 'error',
      flow_id: expect.any(String),
      reason: 'access_denied',
      reference_id,
    });
    expect((await terra(`/userInfo?user_id=${link.user_id}`)).status).toBe(404);
  });

  it('sends the legacy auth + status error on cancel when legacyAuthFailure is set', async () => {
    await isolated({ legacyAuthFailure: true }, async (own, ownReceiver) => {
      const link = await authenticateUser('FITBIT', { reference_id: 'legacy-ref' }, own);
      const answer = await submitLogin(link.auth_url, 'cancel');
      // No failure URL: Terra's own "cancelled" page.
      expect(answer.status).toBe(200);
      expect(await answer.text()).toContain('data-outcome="cancelled"');
      const failure = await ownReceiver.waitFor((received) => received.body.type === 'auth');
      expect(failure.body).toMatchObject({
        type: 'auth',
        status: 'error',
        reason: 'auth_cancelled',
        reference_id: 'legacy-ref',
        message: expect.any(String),
        user: { user_id: link.user_id, provider: 'FITBIT', reference_id: 'legacy-ref' },
      });
    });
  });

  it('shows a plain connected page without a success URL, and refuses a used link', async () => {
    const link = await authenticateUser('WHOOP', {});
    const answer = await submitLogin(link.auth_url, 'approve');
    expect(answer.status).toBe(200);
    expect(await answer.text()).toContain('data-outcome="connected"');
    expect((await fetch(link.auth_url)).status).toBe(410);
    const auth = await receiver.waitFor(forUser(link.user_id, 'auth'));
    expect(userOf(auth)?.reference_id).toBeNull();
  });

  it('appends reference_id=null when none was given, as Terra does', async () => {
    const link = await authenticateUser('POLAR', { auth_success_redirect_url: 'https://app.example/ok' });
    const answer = await submitLogin(link.auth_url, 'approve');
    expect(new URL(answer.headers.get('location') ?? '').searchParams.get('reference_id')).toBe('null');
  });

  it('rejects SDK-only, disabled and unknown resources with 400', async () => {
    for (const resource of ['APPLE', 'DEXCOM', 'NOT_A_PROVIDER']) {
      const response = await terra(`/auth/authenticateUser?resource=${resource}`, {
        method: 'POST',
        body: {},
      });
      expect(response.status, resource).toBe(400);
      expect((await json(response)).detail).toContain(resource);
    }
  });

  it('rejects a redirect URL that is not absolute', async () => {
    const response = await terra('/auth/authenticateUser?resource=GARMIN', {
      method: 'POST',
      body: { auth_success_redirect_url: '/relative' },
    });
    expect(response.status).toBe(400);
    expect((await json(response)).detail).toContain('auth_success_redirect_url');
  });
});

describe('widget sessions', () => {
  it('creates a session on the new path and its alias, and the page offers only the asked providers', async () => {
    for (const path of ['/api/widget/session', '/widget/api/session']) {
      const response = await fetch(`${sandbox.url}${path}`, {
        method: 'POST',
        headers: { ...KEYS, 'content-type': 'application/json' },
        body: JSON.stringify({ providers: 'GARMIN,OURA', reference_id: newReference(), language: 'en' }),
      });
      expect(response.status).toBe(200);
      const session = await json<{ session_id: string; url: string; status: string; expires_in: number }>(
        response,
      );
      expect(session).toEqual({
        session_id: expect.any(String),
        url: `${sandbox.url}/widget/session/${session.session_id}`,
        status: 'success',
        expires_in: 900,
      });
      const html = await (await fetch(session.url)).text();
      const offered = [...html.matchAll(/data-provider="([A-Z_]+)"/g)].map((match) => match[1]);
      expect(offered).toEqual(['GARMIN', 'OURA']);
    }
  });

  it('offers every enabled non-SDK provider when none are named', async () => {
    const response = await fetch(`${sandbox.url}/api/widget/session`, {
      method: 'POST',
      headers: KEYS,
      body: '{}',
    });
    const { url } = await json<{ url: string }>(response);
    const html = await (await fetch(url)).text();
    const offered = [...html.matchAll(/data-provider="([A-Z_]+)"/g)].map((match) => match[1]);
    expect(offered).toContain('FITBIT');
    expect(offered).not.toContain('DEXCOM');
    expect(offered).not.toContain('APPLE');
  });

  it('goes from provider choice to login to an auth webhook carrying the widget_session_id', async () => {
    const reference_id = newReference();
    const created = await fetch(`${sandbox.url}/api/widget/session`, {
      method: 'POST',
      headers: KEYS,
      body: JSON.stringify({
        providers: 'WITHINGS',
        reference_id,
        auth_success_redirect_url: 'https://app.example/ok',
      }),
    });
    const session = await json<{ session_id: string; url: string }>(created);
    const html = await (await fetch(session.url)).text();
    const href = /data-provider="WITHINGS" href="([^"]+)"/.exec(html)?.[1] ?? '';
    const chosen = await fetch(new URL(href, session.url), { redirect: 'manual' });
    expect(chosen.status).toBe(302);
    const loginUrl = new URL(chosen.headers.get('location') ?? '', session.url).toString();

    const answer = await submitLogin(loginUrl, 'approve', 'withings-account');
    const location = new URL(answer.headers.get('location') ?? '');
    const userId = location.searchParams.get('user_id') ?? '';
    expect(location.searchParams.get('resource')).toBe('WITHINGS');
    const auth = await receiver.waitFor(forUser(userId, 'auth'));
    expect(auth.body).toMatchObject({ widget_session_id: session.session_id, reference_id });
  });

  it('rejects an unknown provider in the session', async () => {
    const response = await fetch(`${sandbox.url}/api/widget/session`, {
      method: 'POST',
      headers: KEYS,
      body: JSON.stringify({ providers: 'GARMIN,NOPE' }),
    });
    expect(response.status).toBe(400);
  });

  it('answers 410 on the legacy generateWidgetSession by default, and works with legacyWidget ok', async () => {
    const gone = await terra('/auth/generateWidgetSession', {
      method: 'POST',
      body: { providers: 'GARMIN' },
    });
    expect(gone.status).toBe(410);
    expect(await gone.json()).toMatchObject({ title: 'gone', detail: expect.stringContaining('2026-09-03') });

    await isolated({ legacyWidget: 'ok' }, async (own) => {
      const response = await terra('/auth/generateWidgetSession', { method: 'POST', body: {}, on: own });
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ status: 'success', expires_in: 900 });
    });
  });
});

describe('reconnecting the same account', () => {
  it('sends user_reauth then auth with a new user_id, and Terra forgets the old user', async () => {
    const reference_id = newReference();
    const first = await authenticateUser('GARMIN', { reference_id });
    await submitLogin(first.auth_url, 'approve', 'runner-42');
    await receiver.waitFor(forUser(first.user_id, 'auth'));

    const second = await authenticateUser('GARMIN', { reference_id });
    await submitLogin(second.auth_url, 'approve', 'runner-42');
    expect(second.user_id).not.toBe(first.user_id);

    const newAuth = await receiver.waitFor(forUser(second.user_id, 'auth'));
    const isSwap = (received: Received) =>
      received.body.type === 'user_reauth' && idOf(received.body.new_user) === second.user_id;
    const swap = await receiver.waitFor(isSwap);
    expect(receiver.received.filter(isSwap)).toHaveLength(1);
    expect(verifies(swap)).toBe(true);
    expect(swap.body).toMatchObject({
      status: 'warning',
      version: '2022-03-16',
      old_user: { user_id: first.user_id, provider: 'GARMIN', reference_id },
      new_user: { user_id: second.user_id, provider: 'GARMIN', reference_id, active: true },
    });
    // Emission order, and a strictly later ordering timestamp for the auth.
    expect(receiver.received.indexOf(swap)).toBeLessThan(receiver.received.indexOf(newAuth));
    expect(Number(newAuth.headers['x-terra-ordering-timestamp'])).toBeGreaterThan(
      Number(swap.headers['x-terra-ordering-timestamp']),
    );

    expect((await terra(`/userInfo?user_id=${first.user_id}`)).status).toBe(404);
    const listed = await json<Array<{ user_id: string }>>(
      await terra(`/userInfo?reference_id=${reference_id}`),
    );
    expect(listed.map((user) => user.user_id)).toEqual([second.user_id]);
  });

  it('replaces a revoked user too, since Terra keeps one user per account', async () => {
    const reference_id = newReference();
    const revoked = await connectUser(reference_id, 'FITBIT', 'fitbit-fan');
    await control(`/users/${revoked}/events/access_revoked`, {});
    const fresh = await connectUser(reference_id, 'FITBIT', 'fitbit-fan');
    const swap = await receiver.waitFor(
      (received) => received.body.type === 'user_reauth' && idOf(received.body.old_user) === revoked,
    );
    expect(swap.body).toMatchObject({ new_user: { user_id: fresh }, old_user: { active: false } });
  });

  it('treats another account, or the same account under another reference_id, as a new connection', async () => {
    const reference_id = newReference();
    const a = await connectUser(reference_id, 'OURA', 'alice-ring');
    const b = await connectUser(reference_id, 'OURA', 'bob-ring');
    const c = await connectUser(newReference(), 'OURA', 'alice-ring');
    await receiver.waitFor(forUser(c, 'auth'));
    const ids = sandbox.users().map((user) => user.user_id);
    expect(ids).toEqual(expect.arrayContaining([a, b, c]));
    const swaps = receiver.ofType('user_reauth').map((received) => idOf(received.body.old_user));
    expect(swaps).not.toContain(a);
  });
});

describe('deauthenticateUser', () => {
  it('deletes the user, sends deauth, and answers 404 afterwards', async () => {
    const userId = await connectUser(newReference(), 'FITBIT');
    const response = await terra(`/auth/deauthenticateUser?user_id=${userId}`, { method: 'DELETE' });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'success' });
    const deauth = await receiver.waitFor(forUser(userId, 'deauth'));
    expect(deauth.body).toMatchObject({ status: 'success', user: { user_id: userId, active: false } });
    expect((await terra(`/userInfo?user_id=${userId}`)).status).toBe(404);
    expect((await terra(`/auth/deauthenticateUser?user_id=${userId}`, { method: 'DELETE' })).status).toBe(
      404,
    );
    expect((await terra('/auth/deauthenticateUser', { method: 'DELETE' })).status).toBe(400);
  });
});

describe('userInfo', () => {
  it('answers one user with polling metadata by user_id', async () => {
    const reference_id = newReference();
    const userId = await connectUser(reference_id, 'SUUNTO');
    const body = await json(await terra(`/userInfo?user_id=${userId}`));
    expect(body).toEqual({
      user: {
        user_id: userId,
        provider: 'SUUNTO',
        last_webhook_update: null,
        scopes: 'workout',
        reference_id,
        active: true,
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/),
        last_polled_at: null,
        most_recent_data_at: null,
      },
      status: 'success',
      is_authenticated: true,
    });
  });

  it('lists a reference_id as a bare array by default and as {users} when told to', async () => {
    const reference_id = newReference();
    const ids = [await connectUser(reference_id, 'GARMIN'), await connectUser(reference_id, 'OURA')];
    const bare = await json<Array<{ user_id: string }>>(
      await terra(`/userInfo?reference_id=${reference_id}`),
    );
    expect(bare.map((user) => user.user_id)).toEqual(ids);
    expect(await json(await terra('/userInfo?reference_id=nobody-has-this'))).toEqual([]);

    await isolated({ userInfoListShape: 'users' }, async (own) => {
      const ownId = await connectUser('shape-ref', 'COROS', undefined, own);
      const wrapped = await json(await terra('/userInfo?reference_id=shape-ref', { on: own }));
      expect(wrapped).toEqual({ users: [expect.objectContaining({ user_id: ownId, provider: 'COROS' })] });
      expect(await json(await terra('/userInfo?reference_id=none', { on: own }))).toEqual({ users: [] });
    });
  });

  it('needs user_id or reference_id', async () => {
    expect((await terra('/userInfo')).status).toBe(400);
  });
});

describe('subscriptions', () => {
  it('lists every user at once without page, and in zero-based pages with page/per_page', async () => {
    await isolated({}, async (own) => {
      const ids: string[] = [];
      for (const provider of ['GARMIN', 'OURA', 'WHOOP', 'POLAR', 'COROS'])
        ids.push(await connectUser('subs', provider, undefined, own));
      const all = await json<{ users: Array<{ user_id: string }> }>(
        await terra('/subscriptions', { on: own }),
      );
      expect(all.users.map((user) => user.user_id)).toEqual(ids);

      type Page = { data: { next: number | null; max_page: number; results: Array<{ user_id: string }> } };
      const page = async (n: number) =>
        json<Page>(await terra(`/subscriptions?page=${n}&per_page=2`, { on: own }));
      const [p0, p1, p2] = [await page(0), await page(1), await page(2)];
      expect(p0.data).toMatchObject({ next: 1, max_page: 2 });
      expect(p2.data.next).toBeNull();
      expect([p0, p1, p2].flatMap((p) => p.data.results.map((user) => user.user_id))).toEqual(ids);
      expect((await terra('/subscriptions?page=-1', { on: own })).status).toBe(400);
    });
  });
});

describe('integrations/detailed', () => {
  type Catalogue = {
    status: string;
    providers: Array<{
      provider: string;
      name: string;
      icon: string;
      setup: string;
      enabled: boolean;
      types: object;
    }>;
  };

  it('lists cloud providers, and SDK-only ones only with sdk=true', async () => {
    const cloud = await json<Catalogue>(await terra('/integrations/detailed'));
    expect(cloud.status).toBe('success');
    const ids = cloud.providers.map((provider) => provider.provider);
    expect(ids).toEqual(
      expect.arrayContaining(['GARMIN', 'FITBIT', 'OURA', 'WHOOP', 'POLAR', 'WITHINGS', 'GOOGLE']),
    );
    expect(ids).not.toContain('APPLE');
    expect(cloud.providers.some((provider) => !provider.enabled)).toBe(true);
    expect(cloud.providers[0]).toEqual({
      provider: 'GARMIN',
      name: 'Garmin',
      icon: `${sandbox.url}/static/icons/garmin.svg`,
      setup: 'API_KEYS_MANAGED',
      enabled: true,
      types: { activity: true, body: true, nutrition: false, daily: true, sleep: true, menstruation: true },
    });

    const withSdk = await json<Catalogue>(await terra('/integrations/detailed?sdk=true'));
    const sdkOnly = withSdk.providers.filter((provider) => provider.setup === 'SDK').map((p) => p.provider);
    expect(sdkOnly).toEqual(['APPLE', 'SAMSUNG', 'HEALTH_CONNECT']);
  });

  it('serves the icons it names', async () => {
    const icon = await fetch(`${sandbox.url}/static/icons/oura.svg`);
    expect(icon.status).toBe(200);
    expect(icon.headers.get('content-type')).toBe('image/svg+xml');
    expect(await icon.text()).toMatch(/^<svg /);
  });

  it('is public like Terra: without dev-id every provider is marked enabled; a wrong dev-id is refused', async () => {
    const open = await json<Catalogue>(await terra('/integrations/detailed', { headers: {} }));
    expect(open.providers.every((provider) => provider.enabled)).toBe(true);
    const scoped = await terra('/integrations/detailed', { headers: { 'dev-id': 'local-dev-id' } });
    expect(scoped.status).toBe(200);
    expect((await terra('/integrations/detailed', { headers: { 'dev-id': 'someone-else' } })).status).toBe(
      401,
    );
  });
});

describe('generateAuthToken', () => {
  it('mints a single-use 64-hex token valid for 180 s', async () => {
    const response = await terra('/auth/generateAuthToken', { method: 'POST' });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      status: 'success',
      token: expect.stringMatching(/^[0-9a-f]{64}$/),
      expires_in: 180,
    });
  });
});

describe('controls', () => {
  async function fire(userId: string, type: string, body: unknown = {}) {
    const response = await control(`/users/${userId}/events/${type}`, body);
    return { status: response.status, body: await json<{ trace_id: string }>(response) };
  }

  it('connects a user as if they approved, with an auth webhook', async () => {
    const reference_id = newReference();
    const userId = await connectUser(reference_id, 'GOOGLE');
    const auth = await receiver.waitFor(forUser(userId, 'auth'));
    expect(userOf(auth)).toMatchObject({
      provider: 'GOOGLE',
      reference_id,
      scopes: expect.stringContaining('fitness'),
    });
    expect((await control('/users', { reference_id, provider: 'NOPE' })).status).toBe(400);
    expect((await control('/users', { provider: 'DEXCOM' })).status).toBe(400);
  });

  it('fires access_revoked, leaving the user inactive', async () => {
    const userId = await connectUser(newReference(), 'GARMIN');
    const fired = await fire(userId, 'access_revoked');
    expect(fired.status).toBe(200);
    const event = await receiver.waitFor(forUser(userId, 'access_revoked'));
    expect(event.headers['x-terra-trace-id']).toBe(fired.body.trace_id);
    expect(event.body).toMatchObject({ status: 'warning', user: { active: false } });
    expect(await json(await terra(`/userInfo?user_id=${userId}`))).toMatchObject({ is_authenticated: false });
  });

  it('fires connection_error', async () => {
    const userId = await connectUser(newReference(), 'GARMIN');
    await fire(userId, 'connection_error');
    const event = await receiver.waitFor(forUser(userId, 'connection_error'));
    expect(event.body).toMatchObject({
      status: 'warning',
      message: expect.any(String),
      user: { active: true },
    });
  });

  it('fires permission_change with the given scopes, or by flipping an optional scope', async () => {
    const userId = await connectUser(newReference(), 'GARMIN');
    await fire(userId, 'permission_change', { scopes_added: 'BODY_EXPORT', scopes_removed: 'HEALTH_EXPORT' });
    const explicit = await receiver.waitFor(forUser(userId, 'permission_change'));
    expect(explicit.body).toMatchObject({
      status: 'warning',
      version: '2022-03-16',
      scopes_added: 'BODY_EXPORT',
      scopes_removed: 'HEALTH_EXPORT',
      user: { scopes: 'ACTIVITY_EXPORT,BODY_EXPORT' },
    });

    await fire(userId, 'permission_change');
    await receiver.waitFor(
      (r) => forUser(userId, 'permission_change')(r) && r.body.scopes_added === 'WORKOUT_IMPORT',
    );
    expect(sandbox.users().find((user) => user.user_id === userId)?.scopes).toBe(
      'ACTIVITY_EXPORT,BODY_EXPORT,WORKOUT_IMPORT',
    );
  });

  it('fires deauth, deleting the user', async () => {
    const userId = await connectUser(newReference(), 'WAHOO');
    await fire(userId, 'deauth');
    await receiver.waitFor(forUser(userId, 'deauth'));
    expect(sandbox.users().some((user) => user.user_id === userId)).toBe(false);
  });

  it.each(
    // The athlete's profile comes under `athlete`, every other type's records in a `data` array.
    DATA_ENDPOINT_TYPES.map((type) => [type, type === 'athlete' ? 'athlete' : 'data']),
  )('fires a %s data event shaped like Terra’s', async (type, field) => {
    const userId = await connectUser(newReference(), 'FITBIT');
    const fired = await fire(userId, type);
    expect(fired.status).toBe(200);
    const event = await receiver.waitFor(forUser(userId, type));
    expect(event.body).toMatchObject({ type, version: '2022-03-16', user: { user_id: userId } });
    expect(event.body[field]).toBeDefined();
    if (field === 'data') {
      const [record] = event.body.data as Array<{ metadata: { start_time: string } }>;
      expect(record?.metadata.start_time).toMatch(/\+00:00$/);
    }
    const info = await json<{ user: { most_recent_data_at: string | null } }>(
      await terra(`/userInfo?user_id=${userId}`),
    );
    expect(info.user.most_recent_data_at).not.toBeNull();
  });

  it('answers 404 for an unknown user and 400 for an unknown event type', async () => {
    expect((await fire(randomUUID(), 'activity')).status).toBe(404);
    const userId = await connectUser(newReference(), 'GARMIN');
    expect((await fire(userId, 'not_an_event')).status).toBe(400);
  });

  it('reads deliveries and reads and patches settings', async () => {
    const deliveries = await json<{ deliveries: Array<{ trace_id: string; status: string }> }>(
      await control('/deliveries'),
    );
    expect(deliveries.deliveries.length).toBeGreaterThan(0);
    await isolated({}, async (own) => {
      expect(await json(await control('/settings', undefined, own))).toMatchObject({ errorShape: 'problem' });
      const patched = await control('/settings', { errorShape: 'message', fault: null }, own);
      expect(await json(patched)).toMatchObject({ errorShape: 'message' });
      expect(own.settings().errorShape).toBe('message');
      const invalid = await control('/settings', { errorShape: 'xml' }, own);
      expect(invalid.status).toBe(400);
    });
  });
});

describe('webhook delivery', () => {
  it('retries a 500 with the same trace id, body and ordering timestamp, re-signed each time', async () => {
    await isolated({}, async (own, ownReceiver) => {
      ownReceiver.answer((_, index) => (index < 2 ? 500 : 200));
      const userId = await connectUser('retry-ref', 'GARMIN', undefined, own);
      await own.idle();
      const attempts = ownReceiver.received;
      expect(attempts).toHaveLength(3);
      expect(new Set(attempts.map((a) => a.headers['x-terra-trace-id'])).size).toBe(1);
      expect(new Set(attempts.map((a) => a.headers['x-terra-ordering-timestamp'])).size).toBe(1);
      expect(new Set(attempts.map((a) => a.raw.toString())).size).toBe(1);
      for (const attempt of attempts) expect(verifies(attempt)).toBe(true);
      expect(own.deliveries()).toEqual([
        expect.objectContaining({
          type: 'auth',
          user_id: userId,
          attempts: 3,
          status: 'delivered',
          last_status: 200,
        }),
      ]);
    });
  });

  it('marks a delivery failed once the schedule is exhausted', async () => {
    await isolated({ retryScheduleMs: [20, 20] }, async (own, ownReceiver) => {
      ownReceiver.answer(() => 503);
      await connectUser('fail-ref', 'OURA', undefined, own);
      await own.idle();
      expect(ownReceiver.received).toHaveLength(3);
      expect(own.deliveries()[0]).toMatchObject({ status: 'failed', attempts: 3, last_status: 503 });
    });
  });

  it('treats no answer within deliveryTimeoutMs as a failure and retries', async () => {
    await isolated({ deliveryTimeoutMs: 150 }, async (own, ownReceiver) => {
      ownReceiver.answer((_, index) => (index === 0 ? 'hang' : 200));
      await connectUser('timeout-ref', 'OURA', undefined, own);
      await own.idle();
      expect(ownReceiver.received).toHaveLength(2);
      expect(own.deliveries()[0]).toMatchObject({ status: 'delivered', attempts: 2 });
    });
  });

  it('keeps deliveries pending then failed, without throwing, when no webhook URL is set', async () => {
    await isolated({ webhookUrl: undefined, retryScheduleMs: [10] }, async (own) => {
      own.settings({ webhookUrl: undefined });
      await connectUser('nowhere', 'OURA', undefined, own);
      expect(own.deliveries()[0]?.status).toBe('pending');
      await own.idle();
      expect(own.deliveries()[0]).toMatchObject({ status: 'failed', attempts: 2 });
    });
  });

  it('delivers in emission order', async () => {
    await isolated({}, async (own, ownReceiver) => {
      const userId = await connectUser('order-ref', 'GARMIN', undefined, own);
      const types = ['activity', 'sleep', 'daily', 'body', 'nutrition'];
      for (const type of types) await control(`/users/${userId}/events/${type}`, {}, own);
      await own.idle();
      expect(ownReceiver.received.map((r) => r.body.type)).toEqual(['auth', ...types]);
      const stamps = ownReceiver.received.map((r) => Number(r.headers['x-terra-ordering-timestamp']));
      expect([...stamps].sort((a, b) => a - b)).toEqual(stamps);
    });
  });

  it('duplicates deliveries under chaos, with the same trace id and body', async () => {
    await isolated({ chaos: { duplicateRate: 1, reorderWindowMs: 30 } }, async (own, ownReceiver) => {
      await connectUser('chaos-ref', 'GARMIN', undefined, own);
      await own.idle();
      expect(ownReceiver.received).toHaveLength(2);
      const [a, b] = ownReceiver.received;
      expect(a?.headers['x-terra-trace-id']).toBe(b?.headers['x-terra-trace-id']);
      expect(a?.raw.equals(b?.raw ?? Buffer.alloc(0))).toBe(true);
      expect(own.deliveries()).toHaveLength(2);
    });
  });

  it('stops with a retry pending: idle() resolves, the retry never fires, and the port is closed', async () => {
    const ownReceiver = await startReceiver();
    ownReceiver.answer(() => 500);
    const retryMs = 150;
    const own = await startSandbox({ port: 0, webhookUrl: ownReceiver.url, retryScheduleMs: [retryMs] });
    await connectUser('stop-ref', 'GARMIN', undefined, own);
    await until(() => own.deliveries()[0]?.last_status === 500);
    await own.stop();
    // Would hang (and time the test out) if stop() left the delivery counted as outstanding.
    await own.idle();
    // Wait past the moment the retry was due: a cancelled retry never reaches the receiver.
    await new Promise((resolve) => setTimeout(resolve, retryMs * 3));
    expect(ownReceiver.received).toHaveLength(1);
    await ownReceiver.close();
    expect(own.deliveries()[0]).toMatchObject({ status: 'pending', attempts: 1 });
    await expect(fetch(`${own.url}/`)).rejects.toThrow();
  });

  it('leaves no timer or socket behind: a process that stops it exits on its own', async () => {
    const fixture = fileURLToPath(new URL('./fixtures/stop-with-retry-pending.ts', import.meta.url));
    // The fixture's pending retry is a minute away and the child is killed after 10 s, which makes run()
    // reject: resolving at all means the process ran out of work, so stop() cancelled the retry.
    const { stdout } = await run(process.execPath, ['--import', 'tsx', fixture], { timeout: 10_000 });
    expect(stdout).toContain('"status":"pending"');
    expect(stdout).toContain('"attempts":1');
  });
});

describe('faults', () => {
  it('answers an injected status with Retry-After for `times` requests on the given paths', async () => {
    await isolated({}, async (own) => {
      own.settings({
        fault: { kind: 'status', status: 503, retryAfterSeconds: 2, times: 2, paths: ['/userInfo'] },
      });
      expect((await terra('/subscriptions', { on: own })).status).toBe(200);
      for (let i = 0; i < 2; i++) {
        const response = await terra('/userInfo?reference_id=r', { on: own });
        expect(response.status).toBe(503);
        expect(response.headers.get('retry-after')).toBe('2');
        expect(await response.json()).toMatchObject({ title: 'service unavailable' });
      }
      expect((await terra('/userInfo?reference_id=r', { on: own })).status).toBe(200);
      expect(own.settings().fault).toBeUndefined();
    });
  });

  it('delays answers, then clears itself', async () => {
    const lines: string[] = [];
    await isolated({ log: (line) => lines.push(line) }, async (own) => {
      own.settings({ fault: { kind: 'delay', ms: 300, times: 1 } });
      const started = Date.now();
      expect((await terra('/subscriptions', { on: own })).status).toBe(200);
      // A lower bound only (timers may fire a little early or late): the delay happened.
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
      expect(own.settings().fault).toBeUndefined();
      expect((await terra('/subscriptions?page=0', { on: own })).status).toBe(200);
      // The sandbox logs every fault it applies: the first request only, not the second.
      const faults = lines.filter((line) => line.startsWith('sandbox fault'));
      expect(faults).toEqual(['sandbox fault delay 300 ms: GET /api/v2/subscriptions']);
      expect(lines.some((line) => line.startsWith('GET /api/v2/subscriptions?page=0 → 200 '))).toBe(true);
    });
  });
});

describe("Terra's official SDK against the sandbox", () => {
  it('authenticates a user and reads it back through terra-api', async () => {
    const client = new TerraClient({
      devId: KEYS['dev-id'],
      apiKey: KEYS['x-api-key'],
      baseUrl: sandbox.apiUrl,
    });
    const reference_id = newReference();
    const link = await client.authentication.authenticateuser({ resource: 'OURA', reference_id });
    expect(link.status).toBe('success');
    expect(link.auth_url).toContain(sandbox.url);
    await submitLogin(link.auth_url ?? '', 'approve');

    const info = await client.user.getinfoforuserid({ user_id: link.user_id ?? '' });
    expect(info).toMatchObject({
      status: 'success',
      user: { user_id: link.user_id, provider: 'OURA', reference_id },
    });

    const catalogue = await client.integrations.detailedfetch({ sdk: true });
    expect(catalogue.providers?.some((provider) => provider.provider === 'APPLE')).toBe(true);
  });
});
