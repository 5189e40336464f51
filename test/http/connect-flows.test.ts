import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '#local/stack';
import {
  AppUser,
  decideAtLogin,
  followCallback,
  pickInWidget,
  sandboxOf,
  startTestStack,
} from '../helpers/local-stack.ts';

/** Every connect flow over real HTTP: our local API, the sandbox playing Terra, no mocked fetch. */
let stack: LocalStack;

beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});

const sandbox = () => sandboxOf(stack);

async function connectThroughWidget(user: AppUser, provider: string, account: string) {
  const session = await user.call('POST', '/sessions', { providers: [provider] });
  expect(session.status).toBe(201);
  const login = await pickInWidget(String(session.body.url), provider);
  const callback = await decideAtLogin(login, 'approve', account);
  const landing = await followCallback(callback);
  await sandbox().idle();
  return landing;
}

describe('the widget flow', () => {
  it('goes session → widget → login → redirect → webhook → active', async () => {
    const user = new AppUser(stack);
    const session = await user.call('POST', '/sessions', { providers: ['GARMIN', 'OURA'], language: 'en' });
    expect(session.status).toBe(201);
    expect(session.body).toEqual({
      session_id: expect.any(String),
      url: expect.stringContaining(sandbox().url),
      expires_in: 900,
      expires_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
    });

    const login = await pickInWidget(String(session.body.url), 'GARMIN');
    const callback = new URL(await decideAtLogin(login, 'approve', 'garmin-account'));
    expect(callback.origin + callback.pathname).toBe(`${stack.apiUrl}/callbacks/terra/success`);
    expect(callback.searchParams.get('reference_id')).toBe(user.sub);

    const landing = await followCallback(callback.toString());
    expect(landing.pathname).toBe('/result');
    expect(Object.fromEntries(landing.searchParams)).toMatchObject({
      outcome: 'success',
      status: 'active',
      provider: 'GARMIN',
      user_id: callback.searchParams.get('user_id'),
    });

    await sandbox().idle();
    expect(await user.connections()).toEqual([
      expect.objectContaining({
        user_id: callback.searchParams.get('user_id'),
        provider: 'GARMIN',
        status: 'active',
        scopes: expect.arrayContaining([expect.any(String)]),
      }),
    ]);
  });

  it('replaces the old connection when the same account reconnects', async () => {
    const user = new AppUser(stack);
    const first = await connectThroughWidget(user, 'GARMIN', 'same-account');
    const second = await connectThroughWidget(user, 'GARMIN', 'same-account');
    const oldId = first.searchParams.get('user_id');
    const newId = second.searchParams.get('user_id');
    expect(newId).not.toBe(oldId);
    const connections = await user.connections();
    expect(connections).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ user_id: oldId, status: 'replaced', replaced_by: newId }),
        expect.objectContaining({ user_id: newId, status: 'active', replaces: oldId }),
      ]),
    );
    expect(await user.connections('?status=active')).toHaveLength(1);
  });

  it('ends a cancelled login on the failure page with nothing active', async () => {
    const user = new AppUser(stack);
    const session = await user.call('POST', '/sessions', {});
    const login = await pickInWidget(String(session.body.url), 'POLAR');
    const landing = await followCallback(await decideAtLogin(login, 'cancel'));
    expect(landing.searchParams.get('outcome')).toBe('failure');
    expect(landing.searchParams.get('status')).toBe('cancelled');
    await sandbox().idle();
    expect(await user.connections('?status=active')).toEqual([]);
    expect(
      sandbox()
        .deliveries()
        .some((delivery) => delivery.type === 'auth_cancelled'),
    ).toBe(true);
  });
});

describe('the custom UI flow', () => {
  it('lists providers with SDK-only ones marked', async () => {
    const { status, body } = await new AppUser(stack).call('GET', '/providers');
    expect(status).toBe(200);
    const providers = body.providers as Array<Record<string, unknown>>;
    expect(providers).toContainEqual(expect.objectContaining({ provider: 'GARMIN', sdk_only: false }));
    expect(providers).toContainEqual(expect.objectContaining({ provider: 'APPLE', sdk_only: true }));
    expect(
      providers.every((provider) => typeof provider.name === 'string' && Array.isArray(provider.types)),
    ).toBe(true);
    expect(providers.map((provider) => provider.provider)).not.toContain('DEXCOM');
  });

  it('stores a pending record at once; the auth webhook makes it active', async () => {
    const user = new AppUser(stack);
    const created = await user.call('POST', '/connections', { provider: 'oura' });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      user_id: expect.any(String),
      provider: 'OURA',
      auth_url: expect.any(String),
    });
    expect(await user.connections()).toEqual([
      expect.objectContaining({ user_id: created.body.user_id, provider: 'OURA', status: 'pending' }),
    ]);

    const landing = await followCallback(await decideAtLogin(String(created.body.auth_url), 'approve'));
    expect(landing.searchParams.get('status')).toBe('active');
    await sandbox().idle();
    expect(await user.connections()).toEqual([
      expect.objectContaining({ user_id: created.body.user_id, status: 'active' }),
    ]);
  });

  it('lands a cancel at the provider on the failure page, leaving the pending record to what Terra says', async () => {
    const user = new AppUser(stack);
    const created = await user.call('POST', '/connections', { provider: 'WHOOP' });
    const landing = await followCallback(await decideAtLogin(String(created.body.auth_url), 'cancel'));
    expect(landing.searchParams.get('status')).toBe('cancelled');
    await sandbox().idle();
    // Terra's 2026 `auth_cancelled` names no user, and the callback can be forged: nothing ends the login.
    expect(await user.connections()).toEqual([
      expect.objectContaining({ user_id: created.body.user_id, status: 'pending' }),
    ]);
  });

  it("marks a pending connection failed when Terra's own (legacy) failure webhook names the user", async () => {
    sandbox().settings({ legacyAuthFailure: true });
    try {
      const user = new AppUser(stack);
      const created = await user.call('POST', '/connections', { provider: 'WHOOP' });
      await followCallback(await decideAtLogin(String(created.body.auth_url), 'cancel'));
      await sandbox().idle();
      expect(await user.connections()).toEqual([
        expect.objectContaining({ user_id: created.body.user_id, status: 'failed' }),
      ]);
    } finally {
      sandbox().settings({ legacyAuthFailure: false });
    }
  });

  it('sends SDK-only providers to POST /sdk-token, which mints a token', async () => {
    const user = new AppUser(stack);
    const refused = await user.call('POST', '/connections', { provider: 'APPLE' });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({
      code: 'sdk_only_provider',
      message: expect.stringContaining('POST /sdk-token'),
    });
    const token = await user.call('POST', '/sdk-token');
    expect(token.status).toBe(201);
    expect(token.body).toEqual({ token: expect.stringMatching(/^[0-9a-f]{64}$/), expires_in: 180 });
  });
});

describe('disconnect', () => {
  it('deauthenticates at Terra and marks the connection disconnected', async () => {
    const user = new AppUser(stack);
    const landing = await connectThroughWidget(user, 'FITBIT', 'fitbit-account');
    const user_id = landing.searchParams.get('user_id') ?? '';
    const deleted = await user.call('DELETE', `/connections/${user_id}`);
    expect(deleted.status).toBe(204);
    expect(
      sandbox()
        .users()
        .map((terraUser) => terraUser.user_id),
    ).not.toContain(user_id);
    await sandbox().idle();
    expect(await user.connections()).toEqual([expect.objectContaining({ user_id, status: 'disconnected' })]);
    // Deleting again is harmless: Terra has nothing left, the record stays as it is.
    expect((await user.call('DELETE', `/connections/${user_id}`)).status).toBe(204);
  });

  it("answers 404 for someone else's connection or an unknown one, and never calls Terra", async () => {
    const owner = new AppUser(stack);
    const landing = await connectThroughWidget(owner, 'SUUNTO', 'suunto-account');
    const user_id = landing.searchParams.get('user_id') ?? '';
    const intruder = new AppUser(stack);
    expect((await intruder.call('DELETE', `/connections/${user_id}`)).status).toBe(404);
    expect((await intruder.call('DELETE', '/connections/no-such-user')).status).toBe(404);
    expect(
      sandbox()
        .users()
        .map((terraUser) => terraUser.user_id),
    ).toContain(user_id);
    expect(await owner.connections()).toEqual([expect.objectContaining({ user_id, status: 'active' })]);
  });
});

describe('refresh', () => {
  it('repairs drift from a missed auth and a missed deauth', async () => {
    const user = new AppUser(stack);
    const kept = await connectThroughWidget(user, 'COROS', 'coros-account');
    const keptId = kept.searchParams.get('user_id') ?? '';
    const gone = await connectThroughWidget(user, 'POLAR', 'polar-account');
    const goneId = gone.searchParams.get('user_id') ?? '';

    // Webhooks stop reaching us: Terra's changes happen without our knowing.
    sandbox().settings({ webhookUrl: 'http://127.0.0.1:9/unreachable', retryScheduleMs: [] });
    try {
      const missed = await fetch(`${sandbox().url}/sandbox/users`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ reference_id: user.sub, provider: 'WITHINGS', account: 'withings-account' }),
      });
      const { user_id: missedId } = (await missed.json()) as { user_id: string };
      const deauth = await fetch(`${sandbox().apiUrl}/auth/deauthenticateUser?user_id=${goneId}`, {
        method: 'DELETE',
        headers: { 'dev-id': 'local-dev-id', 'x-api-key': 'local-api-key' },
      });
      expect(deauth.status).toBe(200);
      await sandbox().idle();

      const stale = await user.connections();
      expect(stale.map((connection) => connection.user_id)).not.toContain(missedId);
      const fresh = await user.connections('?refresh=true');
      expect(fresh).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ user_id: missedId, provider: 'WITHINGS', status: 'active' }),
          expect.objectContaining({ user_id: goneId, status: 'disconnected' }),
          expect.objectContaining({ user_id: keptId, status: 'active' }),
        ]),
      );
    } finally {
      sandbox().settings({ webhookUrl: stack.webhookUrl, retryScheduleMs: [50, 100, 200] });
    }
  });
});

describe('callbacks', () => {
  it('records nothing for a forged success and sends the browser only to configured targets', async () => {
    const user = new AppUser(stack);
    const forged = new URL(`${stack.apiUrl}/callbacks/terra/success`);
    forged.search = new URLSearchParams({
      user_id: 'made-up-user',
      resource: 'GARMIN',
      reference_id: user.sub,
      redirect: 'https://evil.example',
    }).toString();
    const landing = await followCallback(forged.toString());
    expect(landing.origin).toBe(stack.apiUrl);
    expect(landing.searchParams.get('status')).toBe('error');
    expect(await user.connections()).toEqual([]);
  });

  it('answers a bad outcome or missing parameters with a 302 to the failure target', async () => {
    for (const path of [
      '/callbacks/terra/sideways?user_id=x',
      '/callbacks/terra/success',
      '/callbacks/terra/success?user_id=../../etc',
    ]) {
      const landing = await followCallback(`${stack.apiUrl}${path}`);
      expect(landing.origin).toBe(stack.apiUrl);
      expect(landing.searchParams.get('outcome')).toBe('failure');
      expect(landing.searchParams.get('status')).toBe('error');
    }
  });
});

describe('bad requests', () => {
  it.each([
    ['POST', '/connections', { provider: 'GAR MIN' }, 400, 'provider'],
    ['POST', '/connections', { provider: 'NOPE_PROVIDER' }, 400, 'provider'],
    ['POST', '/connections', { provider: 42 }, 400, 'provider'],
    ['POST', '/connections', { provider: 'GARMIN', redirect: 'https://evil.example' }, 400, 'redirect'],
    ['POST', '/connections', { provider: 'GARMIN', reference_id: 'someone-else' }, 400, 'reference_id'],
    ['POST', '/connections', {}, 400, 'provider'],
    ['POST', '/sessions', { providers: 'GARMIN' }, 400, 'providers'],
    ['POST', '/sessions', { providers: Array(51).fill('GARMIN') }, 400, 'providers'],
    ['POST', '/sessions', { language: 'x'.repeat(5000) }, 400, 'language'],
    ['POST', '/sessions', '{not json', 400, 'JSON'],
    ['POST', '/sdk-token', { extra: true }, 400, 'extra'],
    ['GET', '/connections?refresh=maybe', undefined, 400, 'refresh'],
  ])('%s %s %j → %i naming %s', async (method, path, body, status, named) => {
    const response = await new AppUser(stack).call(method, path, body);
    expect(response.status).toBe(status);
    expect(response.body.error).toMatchObject({
      code: expect.any(String),
      message: expect.stringContaining(named),
    });
  });

  it('answers 415 to a body that is not sent as JSON', async () => {
    const response = await new AppUser(stack).call('POST', '/sessions', 'providers=GARMIN', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(response.status).toBe(415);
  });

  it('answers 413 to an oversized body', async () => {
    const response = await new AppUser(stack).call('POST', '/sessions', { language: 'x'.repeat(70_000) });
    expect(response.status).toBe(413);
  });
});
