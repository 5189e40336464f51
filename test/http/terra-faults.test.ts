import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '#local/stack';
import { AppUser, decideAtLogin, followCallback, sandboxOf, startTestStack } from '../helpers/local-stack.ts';

/**
 * Terra misbehaving, through the sandbox's fault settings: our answers stay clear (502 with Terra's
 * status and detail, 504 on timeout), bounded in time, and leave no partial state. This stack talks
 * to the legacy widget endpoint, so it also shows what a team sees when Terra has retired it.
 */
let stack: LocalStack;
const TIMEOUT_MS = 300;
const DEADLINE_MS = 1_500;

beforeAll(async () => {
  stack = await startTestStack({
    env: {
      TERRA_WIDGET_MODE: 'legacy',
      TERRA_TIMEOUT_MS: String(TIMEOUT_MS),
      TERRA_DEADLINE_MS: String(DEADLINE_MS),
      PROVIDERS_CACHE_SECONDS: '0',
      // No history requests: they would change the records (their backfill progress) while a test compares them.
      BACKFILL_DAYS: '0',
    },
  });
});
afterAll(async () => {
  await stack?.stop();
});
afterEach(() => {
  stack.sandbox?.settings({ fault: undefined });
});

const sandbox = () => sandboxOf(stack);

async function timed<T>(run: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = Date.now();
  const result = await run();
  return { result, ms: Date.now() - started };
}

describe('the legacy widget endpoint', () => {
  it('answers 502 with what to change when Terra says 410', async () => {
    const response = await new AppUser(stack).call('POST', '/sessions', {});
    expect(response.status).toBe(502);
    expect(response.body.error).toMatchObject({
      code: 'terra_legacy_widget_gone',
      message: expect.stringContaining('TERRA_WIDGET_MODE=widget-api'),
    });
  });
});

describe('Terra errors', () => {
  it('maps a Terra 5xx to 502 carrying its status and detail, without retrying a POST', async () => {
    sandbox().settings({ fault: { kind: 'status', status: 503, times: 5 } });
    const response = await new AppUser(stack).call('POST', '/sdk-token');
    expect(response.status).toBe(502);
    const message = String((response.body.error as Record<string, unknown>).message);
    expect(message).toContain('503');
    expect(JSON.stringify(response.body)).not.toMatch(/at \w+ \(|node_modules|stack/);
    expect(sandbox().settings().fault).toMatchObject({ times: 4 });
  });

  it('retries an idempotent call through a short outage and succeeds', async () => {
    sandbox().settings({ fault: { kind: 'status', status: 500, times: 2 } });
    const response = await new AppUser(stack).call('GET', '/providers');
    expect(response.status).toBe(200);
    expect(sandbox().settings().fault).toBeUndefined();
  });

  it('honours Retry-After within the deadline', async () => {
    sandbox().settings({ fault: { kind: 'status', status: 429, retryAfterSeconds: 1, times: 1 } });
    const { result, ms } = await timed(() => new AppUser(stack).call('GET', '/providers'));
    expect(result.status).toBe(200);
    expect(ms).toBeGreaterThanOrEqual(1_000);
  });

  it('answers 504 when Terra does not answer in time, within the deadline', async () => {
    sandbox().settings({ fault: { kind: 'delay', ms: 3_000 } });
    const { result, ms } = await timed(() =>
      new AppUser(stack).call('POST', '/connections', { provider: 'GARMIN' }),
    );
    expect(result.status).toBe(504);
    expect(result.body.error).toMatchObject({ code: 'terra_timeout' });
    expect(ms).toBeLessThan(DEADLINE_MS + 1_000);
  });
});

describe('no partial state', () => {
  it('leaves the record as it was when deauthenticateUser fails at Terra', async () => {
    const user = new AppUser(stack);
    const created = await user.call('POST', '/connections', { provider: 'OURA' });
    await followCallback(await decideAtLogin(String(created.body.auth_url), 'approve'));
    await sandbox().idle();
    const before = await user.connections();
    expect(before).toEqual([expect.objectContaining({ status: 'active' })]);

    sandbox().settings({ fault: { kind: 'status', status: 500, paths: ['/auth/deauthenticateUser'] } });
    const { result, ms } = await timed(() => user.call('DELETE', `/connections/${created.body.user_id}`));
    expect(result.status).toBe(502);
    expect(ms).toBeLessThan(DEADLINE_MS + 1_000);
    expect(await user.connections()).toEqual(before);
  });

  it('stores no pending record when authenticateUser fails', async () => {
    const user = new AppUser(stack);
    sandbox().settings({ fault: { kind: 'status', status: 500, paths: ['/auth/authenticateUser'] } });
    expect((await user.call('POST', '/connections', { provider: 'GARMIN' })).status).toBe(502);
    expect(await user.connections()).toEqual([]);
  });

  it('sends the browser to the failure target when Terra cannot confirm a callback', async () => {
    const user = new AppUser(stack);
    const created = await user.call('POST', '/connections', { provider: 'POLAR' });
    const callback = await decideAtLogin(String(created.body.auth_url), 'approve');
    sandbox().settings({ fault: { kind: 'status', status: 503, paths: ['/userInfo'] } });
    const { result: landing, ms } = await timed(() => followCallback(callback));
    expect(landing.searchParams.get('outcome')).toBe('failure');
    expect(landing.searchParams.get('status')).toBe('error');
    expect(ms).toBeLessThan(DEADLINE_MS + 1_000);
  });

  it('answers 502 to a refresh Terra cannot serve, leaving the records alone', async () => {
    const user = new AppUser(stack);
    sandbox().settings({ fault: { kind: 'status', status: 500, paths: ['/userInfo'] } });
    const response = await user.call('GET', '/connections?refresh=true');
    expect(response.status).toBe(502);
  });
});
