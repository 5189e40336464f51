import { describe, expect, it } from 'vitest';
import { type Harness, json, KEYS, startHarness } from './harness.ts';

/** Terra's 50-user limit on development environments (`userLimit`). */
async function isolated(options: Parameters<typeof startHarness>[0], run: (own: Harness) => Promise<void>) {
  const own = await startHarness(options);
  try {
    await run(own);
  } finally {
    await own.close();
  }
}

const LIMIT_DETAIL = expect.stringContaining('limited to 50 connected users');

/** POSTs a widget session on one of Terra's two paths. */
const widgetSession = (own: Harness, path: string) =>
  fetch(`${own.sandbox.url}${path}`, { method: 'POST', headers: KEYS, body: JSON.stringify({}) });

async function approveLogin(authUrl: string, account: string) {
  return fetch(authUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ account, decision: 'approve' }),
    redirect: 'manual',
  });
}

describe('user limit', () => {
  it('refuses the 51st user everywhere a user can be created, until one is deauthenticated', async () => {
    await isolated({ legacyWidget: 'ok' }, async (own) => {
      const ids: string[] = [];
      for (let i = 0; i < 50; i++) ids.push(await own.connect('GARMIN', { account: `runner-${i}` }));
      expect(own.sandbox.users()).toHaveLength(50);

      const refused = await own.control('/users', { provider: 'GARMIN', account: 'runner-50' });
      expect(refused.status).toBe(403);
      expect(refused.headers.get('content-type')).toBe('application/problem+json');
      expect(await json(refused)).toMatchObject({ title: 'forbidden', detail: LIMIT_DETAIL });
      expect(refused.headers.get('access-control-allow-origin')).toBe('*');

      const link = await own.terra('/auth/authenticateUser?resource=OURA', { method: 'POST', body: {} });
      expect(link.status).toBe(403);
      expect(await json(link)).toMatchObject({
        detail: expect.stringContaining('DELETE /auth/deauthenticateUser'),
      });
      for (const path of ['/api/widget/session', '/widget/api/session']) {
        const session = await widgetSession(own, path);
        expect(session.status, path).toBe(403);
        expect(await json(session)).toMatchObject({ detail: LIMIT_DETAIL });
      }
      const legacy = await own.terra('/auth/generateWidgetSession', { method: 'POST', body: {} });
      expect(legacy.status).toBe(403);

      // Reconnecting an account that is already a user replaces it: not a new user.
      const reauth = await own.control('/users', { provider: 'GARMIN', account: 'runner-7' });
      expect(reauth.status).toBe(200);
      expect(own.sandbox.users()).toHaveLength(50);

      const deauth = await own.terra(`/auth/deauthenticateUser?user_id=${ids[0]}`, { method: 'DELETE' });
      expect(deauth.status).toBe(200);
      expect(own.sandbox.users()).toHaveLength(49);
      expect((await own.control('/users', { provider: 'GARMIN', account: 'runner-50' })).status).toBe(200);
      expect((await own.control('/users', { provider: 'GARMIN', account: 'runner-51' })).status).toBe(403);
      await own.sandbox.idle();
      // No webhook for a refused connection.
      expect(own.receiver.ofType('auth')).toHaveLength(52);
    });
  });

  it('refuses approving a login for a new account at the limit, keeping the link usable', async () => {
    await isolated({ userLimit: 1 }, async (own) => {
      const response = await own.terra('/auth/authenticateUser?resource=GARMIN', {
        method: 'POST',
        body: { reference_id: 'late' },
      });
      const link = await json<{ user_id: string; auth_url: string }>(response);
      // The slot is taken while the user is still on the login page.
      const first = await own.connect('OURA');

      const refused = await approveLogin(link.auth_url, 'garmin-account');
      expect(refused.status).toBe(403);
      expect(refused.headers.get('content-type')).toContain('text/html');
      expect(await refused.text()).toContain('limited to 1 connected users');
      expect(own.sandbox.users().map((user) => user.user_id)).toEqual([first]);

      await own.terra(`/auth/deauthenticateUser?user_id=${first}`, { method: 'DELETE' });
      const approved = await approveLogin(link.auth_url, 'garmin-account');
      expect(approved.status).toBe(200);
      expect(own.sandbox.users().map((user) => user.user_id)).toEqual([link.user_id]);
      await own.sandbox.idle();
      expect(own.receiver.ofType('auth').map((r) => (r.body.user as { user_id: string }).user_id)).toEqual([
        first,
        link.user_id,
      ]);
    });
  });

  it('lets a reconnection through the login page replace its user at the limit', async () => {
    await isolated({ userLimit: 2 }, async (own) => {
      const link = await json<{ auth_url: string }>(
        await own.terra('/auth/authenticateUser?resource=GARMIN', {
          method: 'POST',
          body: { reference_id: 'r' },
        }),
      );
      await own.connect('GARMIN', { reference_id: 'r', account: 'same-watch' });
      await own.connect('OURA');
      expect((await approveLogin(link.auth_url, 'same-watch')).status).toBe(200);
      await own.sandbox.idle();
      expect(own.receiver.ofType('user_reauth')).toHaveLength(1);
      expect(own.sandbox.users()).toHaveLength(2);
    });
  });

  it('is configurable: null means unlimited, and a lower limit leaves existing users alone', async () => {
    await isolated({ userLimit: null, errorShape: 'message' }, async (own) => {
      expect(own.sandbox.settings().userLimit).toBeNull();
      const a = await own.connect('GARMIN', { account: 'a' });
      await own.connect('GARMIN', { account: 'b' });
      const patched = await json(await own.control('/settings', { userLimit: 1 }));
      expect(patched.userLimit).toBe(1);
      const refused = await own.control('/users', { provider: 'GARMIN', account: 'c' });
      expect(refused.status).toBe(403);
      expect(await json(refused)).toEqual({
        status: 'error',
        message: expect.stringContaining('limited to 1 connected users'),
      });
      // Existing users keep working.
      expect((await own.control(`/users/${a}/events/daily`, {})).status).toBe(200);
      expect((await own.control('/settings', { userLimit: null })).status).toBe(200);
      expect((await own.control('/users', { provider: 'GARMIN', account: 'c' })).status).toBe(200);
      expect((await own.control('/settings', { userLimit: -1 })).status).toBe(400);
    });
  });
});
