import { describe, expect, it } from 'vitest';
import type { ConnectionRecord, ConnectionStatus } from '#shared/connections/model';
import type { TerraUserInfo } from '#shared/connections/ports';
import { confirmedByTerra, goneFromTerra, PENDING_GRACE_MS } from '#shared/connections/terra-truth';
import { emptyRecord } from '#shared/connections/transitions';

/**
 * The one rule for what Terra's own listing may change in a record, shared by the callbacks, the
 * refresh and the reconcile: confirm or revoke what Terra lists, disconnect what it no longer lists,
 * never end a connection on a caller's word, never clear what Terra's events reported.
 */

const AT = Date.UTC(2026, 6, 1, 9, 0, 0);
const EVENT_ID = 'reconcile:2026-07-01';

const listed: TerraUserInfo = {
  user_id: 'user-a',
  provider: 'OURA',
  reference_id: 'app-user-1',
  scopes: ['daily', 'sleep'],
  active: true,
};

/** What every event built from `listed` carries besides its change. */
const base = { user_id: 'user-a', reference_id: 'app-user-1', provider: 'OURA', event_id: EVENT_ID, at: AT };

function record(status: ConnectionStatus, extra: Partial<ConnectionRecord> = {}): ConnectionRecord {
  return { ...emptyRecord('user-a'), status, reference_id: 'app-user-1', ...extra };
}

describe('confirmedByTerra', () => {
  it('authenticates a user we have no record of, with the scopes Terra lists', () => {
    expect(confirmedByTerra(listed, undefined, EVENT_ID, AT)).toStrictEqual({
      ...base,
      change: { kind: 'authenticated', scopes: ['daily', 'sleep'] },
    });
  });

  it("creates no record for an SDK-only user without the app user's live claim, but keeps one we have", () => {
    const apple = { ...listed, provider: 'APPLE' };
    expect(confirmedByTerra(apple, undefined, EVENT_ID, AT)).toBeUndefined();
    expect(confirmedByTerra(apple, undefined, EVENT_ID, AT, { claimed: false })).toBeUndefined();
    expect(confirmedByTerra(apple, undefined, EVENT_ID, AT, { claimed: true })).toStrictEqual({
      ...base,
      provider: 'APPLE',
      change: { kind: 'authenticated', scopes: ['daily', 'sleep'] },
    });
    expect(confirmedByTerra({ ...apple, active: false }, record('active'), EVENT_ID, AT)).toStrictEqual({
      ...base,
      provider: 'APPLE',
      change: { kind: 'revoked' },
    });
  });

  it('authenticates a pending connection', () => {
    expect(confirmedByTerra(listed, record('pending'), EVENT_ID, AT)).toStrictEqual({
      ...base,
      change: { kind: 'authenticated', scopes: ['daily', 'sleep'] },
    });
  });

  it('claims no scopes when Terra lists none', () => {
    const { scopes: _, ...withoutScopes } = listed;
    expect(confirmedByTerra(withoutScopes, undefined, EVENT_ID, AT)).toStrictEqual({
      ...base,
      change: { kind: 'authenticated' },
    });
  });

  it('creates no record for a user Terra lists under no app user: no record without an owner', () => {
    expect(confirmedByTerra({ ...listed, reference_id: null }, undefined, EVENT_ID, AT)).toBeUndefined();
  });

  it('still syncs a user it has a record of when Terra lists it under no app user', () => {
    expect(
      confirmedByTerra({ ...listed, reference_id: null }, record('active'), EVENT_ID, AT)?.reference_id,
    ).toBeNull();
  });

  it.each<ConnectionStatus>(['active', 'error', 'revoked'])(
    'only syncs the scopes of a live %s connection, keeping its status',
    (status) => {
      expect(confirmedByTerra(listed, record(status), EVENT_ID, AT)).toStrictEqual({
        ...base,
        change: { kind: 'scopes_changed', scopes: ['daily', 'sleep'], added: [], removed: [] },
      });
    },
  );

  it.each<ConnectionStatus>(['active', 'error', 'revoked'])(
    'changes nothing on a live %s connection when Terra lists no scopes',
    (status) => {
      const { scopes: _, ...withoutScopes } = listed;
      expect(confirmedByTerra(withoutScopes, record(status), EVENT_ID, AT)).toBeUndefined();
    },
  );

  it.each<[string, ConnectionRecord | undefined]>([
    ['we have no record of', undefined],
    ['is pending', record('pending')],
    ['is active', record('active')],
    ['is in error', record('error')],
  ])('revokes a user Terra reports inactive that %s', (_, current) => {
    expect(confirmedByTerra({ ...listed, active: false }, current, EVENT_ID, AT)).toStrictEqual({
      ...base,
      change: { kind: 'revoked' },
    });
  });

  it.each<ConnectionStatus>(['failed', 'disconnected', 'replaced'])(
    'never touches a %s connection, whatever Terra lists',
    (status) => {
      expect(confirmedByTerra(listed, record(status), EVENT_ID, AT)).toBeUndefined();
      expect(confirmedByTerra({ ...listed, active: false }, record(status), EVENT_ID, AT)).toBeUndefined();
    },
  );

  it('takes a user whose active flag Terra leaves out as active', () => {
    const { active: _, ...unflagged } = listed;
    expect(confirmedByTerra(unflagged, undefined, EVENT_ID, AT)?.change.kind).toBe('authenticated');
  });
});

describe('goneFromTerra', () => {
  it.each<ConnectionStatus>(['active', 'error', 'revoked'])('disconnects a live %s connection', (status) => {
    expect(
      goneFromTerra(record(status, { created_at: new Date(AT - 1000).toISOString() }), EVENT_ID, AT),
    ).toStrictEqual({
      user_id: 'user-a',
      reference_id: 'app-user-1',
      event_id: EVENT_ID,
      at: AT,
      change: { kind: 'disconnected' },
    });
  });

  it('names no app user when the record has none', () => {
    const { reference_id: _, ...unowned } = record('active');
    expect(goneFromTerra(unowned, EVENT_ID, AT)?.reference_id).toBeNull();
  });

  it.each<ConnectionStatus>(['failed', 'disconnected', 'replaced'])(
    'leaves a %s connection alone',
    (status) => {
      expect(goneFromTerra(record(status), EVENT_ID, AT)).toBeUndefined();
    },
  );

  describe('a pending connection', () => {
    const since = (ms: number) => new Date(AT - ms).toISOString();

    it('is left alone while the login may still be in progress', () => {
      expect(
        goneFromTerra(record('pending', { created_at: since(PENDING_GRACE_MS - 1) }), EVENT_ID, AT),
      ).toBeUndefined();
    });

    it('is disconnected once the grace period has passed', () => {
      expect(
        goneFromTerra(record('pending', { created_at: since(PENDING_GRACE_MS) }), EVENT_ID, AT),
      ).toMatchObject({
        change: { kind: 'disconnected' },
      });
    });

    it('is dated by its latest data when it has no connection event', () => {
      expect(
        goneFromTerra(record('pending', { last_webhook_update: since(60_000) }), EVENT_ID, AT),
      ).toBeUndefined();
      expect(
        goneFromTerra(record('pending', { last_webhook_update: since(PENDING_GRACE_MS + 1) }), EVENT_ID, AT),
      ).toMatchObject({ change: { kind: 'disconnected' } });
    });

    it('is dated by its first connection event rather than its latest data', () => {
      const started = record('pending', {
        created_at: since(PENDING_GRACE_MS + 60_000),
        last_webhook_update: since(60_000),
      });
      expect(goneFromTerra(started, EVENT_ID, AT)).toMatchObject({ change: { kind: 'disconnected' } });
    });

    it('is disconnected at once when nothing dates it', () => {
      expect(goneFromTerra(record('pending'), EVENT_ID, AT)).toMatchObject({
        change: { kind: 'disconnected' },
      });
    });
  });

  it('disconnects a live connection however recently it was made', () => {
    expect(
      goneFromTerra(record('active', { created_at: new Date(AT).toISOString() }), EVENT_ID, AT),
    ).toMatchObject({
      change: { kind: 'disconnected' },
    });
  });
});
