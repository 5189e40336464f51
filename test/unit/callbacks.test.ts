import { describe, expect, it } from 'vitest';
import { completeCallback } from '#shared/connections/callbacks';
import type { ConnectDeps } from '#shared/connections/flows';
import type { ConnectionEvent } from '#shared/connections/model';
import type { ConnectionRepository, TerraPort, TerraUserInfo } from '#shared/connections/ports';
import { ProviderCatalogue } from '#shared/connections/providers';
import { FakeTerra, MemoryConnections, recordingLog } from '../helpers/memory-ports.ts';

/**
 * `GET /callbacks/terra/{outcome}` over in-memory ports: anyone can forge the redirect, so only what
 * Terra confirms is recorded, and every path ends on a configured page. Over HTTP with the whole stack:
 * test/http/connect-flows.test.ts and test/security/hardening.test.ts.
 */

const NOW = Date.UTC(2026, 6, 1, 9, 0, 0);
const USER_ID = '40f7b0e1-89e2-43ac-a5b8-1e29c8d47cad';
const REFERENCE_ID = 'app-user-1';

const redirects = {
  redirectTargets: {
    web: { success: 'https://app.example.com/connected', failure: 'https://app.example.com/failed' },
    ios: { success: 'myapp://connected', failure: 'myapp://failed' },
  },
  defaultRedirectTarget: 'web',
};

function harness() {
  const terra = new FakeTerra();
  const connections = new MemoryConnections();
  const log = recordingLog();
  // The callbacks use only `terra.getUser` and `connections.get`/`apply`; the fakes implement just those.
  const deps: ConnectDeps = {
    terra: terra as unknown as TerraPort,
    providers: new ProviderCatalogue({ listProviders: async () => [] }, 60_000),
    redirects,
    now: () => NOW,
    log,
    connections: connections as unknown as ConnectionRepository,
  };
  const callback = (outcome: string | undefined, query: Record<string, string | undefined>) =>
    completeCallback(deps, outcome, query);
  return { deps, terra, connections, log, callback };
}

function terraUser(overrides: Partial<TerraUserInfo> = {}): TerraUserInfo {
  return {
    user_id: USER_ID,
    provider: 'OURA',
    reference_id: REFERENCE_ID,
    scopes: ['daily', 'sleep'],
    active: true,
    ...overrides,
  };
}

function event(change: ConnectionEvent['change'], at = NOW - 60_000): ConnectionEvent {
  return { user_id: USER_ID, reference_id: REFERENCE_ID, provider: 'OURA', event_id: 'evt-1', at, change };
}

/** The page a redirect lands on, and its query as an object. */
function landing(url: string) {
  const parsed = new URL(url);
  return {
    page: `${parsed.protocol}//${parsed.host}${parsed.pathname}`,
    query: Object.fromEntries(parsed.searchParams),
  };
}

describe('a success callback', () => {
  it('confirms a user Terra lists, recording it active from what Terra says', async () => {
    const h = harness();
    h.terra.users.set(USER_ID, terraUser());
    const url = await h.callback('success', { user_id: USER_ID, resource: 'garmin', redirect: 'web' });

    expect(landing(url)).toStrictEqual({
      page: 'https://app.example.com/connected',
      query: { status: 'active', provider: 'OURA', user_id: USER_ID },
    });
    expect(h.terra.asked).toEqual([USER_ID]);
    const record = h.connections.records.get(USER_ID);
    expect(record).toMatchObject({
      status: 'active',
      provider: 'OURA',
      reference_id: REFERENCE_ID,
      scopes: ['daily', 'sleep'],
      created_at: new Date(NOW).toISOString(),
      clock: { status: expect.stringMatching(new RegExp(`\\.callback:${USER_ID}$`)) },
    });
  });

  it('turns a pending connection active', async () => {
    const h = harness();
    await h.connections.apply([event({ kind: 'pending' })]);
    h.terra.users.set(USER_ID, terraUser());
    const url = await h.callback('success', { user_id: USER_ID });
    expect(landing(url).query.status).toBe('active');
    expect(h.connections.records.get(USER_ID)?.status).toBe('active');
  });

  it('does not clear an error Terra reported, and says so on the success page', async () => {
    const h = harness();
    await h.connections.apply([event({ kind: 'connection_error', reason: 'token_expired' })]);
    h.terra.users.set(USER_ID, terraUser({ scopes: ['sleep'] }));
    const url = await h.callback('success', { user_id: USER_ID });
    expect(landing(url)).toStrictEqual({
      page: 'https://app.example.com/connected',
      query: { status: 'error', provider: 'OURA', user_id: USER_ID },
    });
    expect(h.connections.records.get(USER_ID)).toMatchObject({
      status: 'error',
      reason: 'token_expired',
      scopes: ['sleep'],
    });
  });

  it('leaves a terminal connection as it is', async () => {
    const h = harness();
    await h.connections.apply([event({ kind: 'disconnected' })]);
    const before = structuredClone(h.connections.records.get(USER_ID));
    h.terra.users.set(USER_ID, terraUser());
    const url = await h.callback('success', { user_id: USER_ID });
    expect(landing(url).query.status).toBe('disconnected');
    expect(h.connections.records.get(USER_ID)).toEqual(before);
    expect(h.connections.calls.filter((call) => call.startsWith('apply'))).toHaveLength(1);
  });

  it('records a user Terra reports inactive as revoked and ends on the failure page', async () => {
    const h = harness();
    h.terra.users.set(USER_ID, terraUser({ active: false }));
    const url = await h.callback('success', { user_id: USER_ID });
    expect(landing(url)).toStrictEqual({
      page: 'https://app.example.com/failed',
      query: { status: 'error', user_id: USER_ID },
    });
    expect(h.connections.records.get(USER_ID)?.status).toBe('revoked');
    expect(h.log.entries).toStrictEqual([
      {
        level: 'warn',
        message: 'callback for a user Terra does not confirm',
        attributes: { user_id: USER_ID },
      },
    ]);
  });

  it('keeps no record of a deleted user Terra still lists, passing on what Terra says', async () => {
    const h = harness();
    h.connections.tombstones.add(USER_ID);
    h.terra.users.set(USER_ID, terraUser());
    const url = await h.callback('success', { user_id: USER_ID });
    expect(landing(url)).toStrictEqual({
      page: 'https://app.example.com/connected',
      query: { status: 'active', provider: 'OURA', user_id: USER_ID },
    });
    expect(h.connections.records.size).toBe(0);
  });

  it('records nothing for a user Terra does not know, ending on the failure page', async () => {
    const h = harness();
    const url = await h.callback('success', { user_id: USER_ID, resource: 'OURA' });
    expect(landing(url)).toStrictEqual({
      page: 'https://app.example.com/failed',
      query: { status: 'error', user_id: USER_ID },
    });
    expect(h.connections.records.size).toBe(0);
    expect(h.connections.calls).toEqual([]);
  });

  it('records nothing when Terra cannot be asked, ending on the failure page', async () => {
    const h = harness();
    class TerraDown extends Error {
      override name = 'TerraDown';
    }
    h.terra.failure = new TerraDown('502');
    const url = await h.callback('success', { user_id: USER_ID, redirect: 'ios' });
    expect(url).toBe(`myapp://failed?status=error&user_id=${USER_ID}`);
    expect(h.connections.records.size).toBe(0);
    expect(h.log.entries).toStrictEqual([
      {
        level: 'warn',
        message: 'callback could not confirm with Terra',
        attributes: { user_id: USER_ID, error: 'TerraDown' },
      },
    ]);
  });

  it.each([
    ['no user_id', {}],
    ['a user_id that is not one', { user_id: '../../etc/passwd' }],
    ['an empty user_id', { user_id: '' }],
  ])('with %s asks Terra nothing and ends on the failure page', async (_, query) => {
    const h = harness();
    const url = await h.callback('success', { ...query, resource: 'OURA' });
    expect(landing(url)).toStrictEqual({
      page: 'https://app.example.com/failed',
      query: { status: 'error' },
    });
    expect(h.terra.asked).toEqual([]);
    // A bad request, not a failure of ours.
    expect(h.log.entries).toEqual([]);
  });

  it('ends on the failure page, naming the user, when the store fails while confirming', async () => {
    const h = harness();
    h.terra.users.set(USER_ID, terraUser());
    class StoreDown extends Error {
      override name = 'StoreDown';
    }
    h.connections.apply = () => Promise.reject(new StoreDown('unavailable'));
    const url = await h.callback('success', { user_id: USER_ID });
    expect(url).toBe(`https://app.example.com/failed?status=error&user_id=${USER_ID}`);
    expect(h.log.entries.at(-1)).toMatchObject({ level: 'warn', attributes: { error: 'StoreDown' } });
  });

  /** A store whose reads start failing after `healthy` of them. */
  function failingAfter(h: ReturnType<typeof harness>, healthy: number, failure: unknown) {
    const get = h.connections.get.bind(h.connections);
    let reads = 0;
    h.connections.get = (user_id) => (++reads > healthy ? Promise.reject(failure) : get(user_id));
  }

  it('still ends on the configured failure page when our own store fails after Terra confirmed', async () => {
    const h = harness();
    h.terra.users.set(USER_ID, terraUser());
    class StoreDown extends Error {
      override name = 'StoreDown';
    }
    failingAfter(h, 1, new StoreDown('unavailable'));
    const url = await h.callback('success', { user_id: USER_ID, redirect: 'ios' });
    expect(url).toBe('myapp://failed?status=error');
    expect(h.log.entries).toStrictEqual([
      { level: 'error', message: 'callback failed', attributes: { error: 'StoreDown' } },
    ]);
  });

  it('logs a failure that is not an Error without its details', async () => {
    const h = harness();
    h.terra.users.set(USER_ID, terraUser());
    failingAfter(h, 1, 'socket hang up');
    expect(await h.callback('success', { user_id: USER_ID })).toBe(
      'https://app.example.com/failed?status=error',
    );
    expect(h.log.entries.at(-1)?.attributes).toStrictEqual({ error: 'unknown' });
  });
});

describe('a failure callback', () => {
  it('records nothing and asks Terra nothing, passing on the provider and user it names', async () => {
    const h = harness();
    await h.connections.apply([event({ kind: 'pending' })]);
    const before = structuredClone(h.connections.records.get(USER_ID));
    const url = await h.callback('failure', { user_id: USER_ID, resource: 'oura', redirect: 'ios' });
    expect(landing(url)).toStrictEqual({
      page: 'myapp://failed',
      query: { status: 'cancelled', provider: 'OURA', user_id: USER_ID },
    });
    expect(h.terra.asked).toEqual([]);
    expect(h.connections.records.get(USER_ID)).toEqual(before);
  });

  it.each([
    ['nothing', {}],
    ['a resource that is not a provider and a user_id that is not one', { resource: 'o', user_id: 'a b' }],
  ])('names neither provider nor user when the query has %s', async (_, query) => {
    const h = harness();
    const url = await h.callback('failure', query);
    expect(landing(url)).toStrictEqual({
      page: 'https://app.example.com/failed',
      query: { status: 'cancelled' },
    });
  });
});

describe('any other outcome', () => {
  it.each([
    ['unknown', 'sideways'],
    ['absent', undefined],
  ])('ends on the failure page with status error when the outcome is %s', async (_, outcome) => {
    const h = harness();
    h.terra.users.set(USER_ID, terraUser());
    const url = await h.callback(outcome, { user_id: USER_ID, resource: 'OURA' });
    expect(landing(url)).toStrictEqual({
      page: 'https://app.example.com/failed',
      query: { status: 'error' },
    });
    expect(h.terra.asked).toEqual([]);
    expect(h.connections.records.size).toBe(0);
    expect(h.log.entries).toEqual([]);
  });
});

describe('the redirect target', () => {
  it('falls back to the default target for a name that is not configured', async () => {
    const h = harness();
    const url = await h.callback('failure', { redirect: 'https://evil.example' });
    expect(landing(url).page).toBe('https://app.example.com/failed');
  });
});
