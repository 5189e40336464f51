import { describe, expect, it } from 'vitest';
import type { Change, ConnectionEvent, ConnectionRecord } from '#shared/connections/model';
import { applyEvent, emptyRecord, isTerminal, sameRecord, stampOf } from '#shared/connections/transitions';

/**
 * The record the state machine stores, field by field, including the registers that make merging
 * order-independent (they are persisted as they are, so their shape is part of the contract), and the
 * comparison the store uses to skip writes. The merge semantics themselves are pinned by the properties
 * in test/property/state-machine.test.ts.
 */

const T0 = Date.UTC(2026, 2, 1, 12, 0, 0);
const iso = (at: number) => new Date(at).toISOString();

function event(
  change: Change,
  at = T0,
  event_id = 'evt-1',
  extra: Partial<ConnectionEvent> = {},
): ConnectionEvent {
  return {
    user_id: 'user-a',
    reference_id: 'app-user-1',
    provider: 'GARMIN',
    event_id,
    at,
    change,
    ...extra,
  };
}

describe('stampOf', () => {
  it('is the time padded to fifteen digits, the rank of the kind and the event id', () => {
    expect(stampOf(event({ kind: 'authenticated' }, 5, 'evt-9'))).toBe('000000000000005.3.evt-9');
    expect(stampOf(event({ kind: 'disconnected' }, T0, 'x'))).toBe(`00${T0}.8.x`);
  });

  it('counts whole milliseconds and never a time before the epoch', () => {
    expect(stampOf(event({ kind: 'pending' }, 1.9, 'a'))).toBe('000000000000001.0.a');
    expect(stampOf(event({ kind: 'pending' }, -5, 'a'))).toBe('000000000000000.0.a');
  });

  it('orders events across a change in the number of digits of the time', () => {
    // 999_999_999_999 ms (2001) has twelve digits, the next millisecond thirteen.
    const earlier = event({ kind: 'connection_error', reason: 'token_expired' }, 999_999_999_999, 'evt-a');
    const later = event({ kind: 'authenticated' }, 1_000_000_000_000, 'evt-b');
    expect(stampOf(earlier) < stampOf(later)).toBe(true);
    expect(applyEvent(applyEvent(undefined, later), earlier).status).toBe('active');
  });
});

describe('isTerminal', () => {
  it('holds for failed, disconnected and replaced only', () => {
    expect(
      ['pending', 'active', 'error', 'revoked', 'failed', 'disconnected', 'replaced'].filter((s) =>
        isTerminal(s as ConnectionRecord['status']),
      ),
    ).toEqual(['failed', 'disconnected', 'replaced']);
  });
});

describe('the stored record', () => {
  it('after an auth holds the status, scopes, owner and provider, each with the stamp that set it', () => {
    const auth = event({ kind: 'authenticated', scopes: ['sleep', 'activity'], replaces: 'user-old' });
    const stamp = stampOf(auth);
    expect(applyEvent(undefined, auth)).toStrictEqual({
      user_id: 'user-a',
      status: 'active',
      scopes: ['activity', 'sleep'],
      clock: { status: stamp, scopes: stamp, provider: stamp, reference: stamp, replaces: stamp },
      scopes_base: ['sleep', 'activity'],
      scope_changes: {},
      provider: 'GARMIN',
      reference_id: 'app-user-1',
      replaces: 'user-old',
      created_at: iso(T0),
      updated_at: iso(T0),
    });
  });

  it('after a data event holds only when data last arrived', () => {
    expect(applyEvent(undefined, event({ kind: 'data' }))).toStrictEqual({
      ...emptyRecord('user-a'),
      last_webhook_update: iso(T0),
    });
  });

  it('after a connection_error without a message carries no reason at all', () => {
    const error = event({ kind: 'connection_error' });
    expect(applyEvent(undefined, error)).toStrictEqual({
      user_id: 'user-a',
      status: 'error',
      scopes: [],
      clock: { status: stampOf(error), provider: stampOf(error), reference: stampOf(error) },
      scopes_base: [],
      scope_changes: {},
      provider: 'GARMIN',
      reference_id: 'app-user-1',
      created_at: iso(T0),
      updated_at: iso(T0),
    });
  });

  it.each<[string, Change, Partial<ConnectionRecord>]>([
    [
      'an auth failure',
      { kind: 'auth_failed', reason: 'invalid_credentials' },
      { reason: 'invalid_credentials' },
    ],
    [
      'a connection_error',
      { kind: 'connection_error', reason: 'token_expired' },
      { reason: 'token_expired' },
    ],
    ['a replacement', { kind: 'replaced', replaced_by: 'user-new' }, { replaced_by: 'user-new' }],
    ['a revocation', { kind: 'revoked' }, {}],
    ['a deauth', { kind: 'disconnected' }, {}],
    ['a pending mark', { kind: 'pending' }, {}],
  ])('after %s carries exactly the detail of that status', (_, change, detail) => {
    const record = applyEvent(undefined, event(change));
    const details = Object.fromEntries(
      Object.entries(record).filter(([key]) => ['reason', 'replaced_by', 'replaces'].includes(key)),
    );
    expect(details).toStrictEqual(detail);
  });

  it('keeps a permission delta next to the full set it applies to', () => {
    const auth = event({ kind: 'authenticated', scopes: ['body'] }, T0, 'evt-auth');
    const delta = event(
      { kind: 'scopes_changed', added: ['sleep'], removed: ['body'] },
      T0 + 1000,
      'evt-delta',
    );
    const record = applyEvent(applyEvent(undefined, auth), delta);
    expect(record).toMatchObject({
      scopes: ['sleep'],
      scopes_base: ['body'],
      scope_changes: {
        sleep: { stamp: stampOf(delta), present: true },
        body: { stamp: stampOf(delta), present: false },
      },
      clock: { scopes: stampOf(auth), status: stampOf(auth) },
    });
  });

  it('drops the deltas a newer full set supersedes, and keeps the newer ones', () => {
    const old = event({ kind: 'scopes_changed', added: ['sleep'], removed: [] }, T0, 'evt-old');
    const newer = event({ kind: 'scopes_changed', added: ['daily'], removed: [] }, T0 + 2000, 'evt-new');
    const full = event({ kind: 'authenticated', scopes: ['body'] }, T0 + 1000, 'evt-full');
    const record = [old, newer, full].reduce<ConnectionRecord | undefined>(applyEvent, undefined);
    expect(record?.scope_changes).toStrictEqual({ daily: { stamp: stampOf(newer), present: true } });
    expect(record?.scopes).toEqual(['body', 'daily']);
  });

  it('takes provider and owner from the newest connection event that carries them, in any order', () => {
    const first = event({ kind: 'authenticated' }, T0, 'evt-1', {
      provider: 'OURA',
      reference_id: 'app-user-1',
    });
    const second = event({ kind: 'revoked' }, T0 + 1000, 'evt-2', {
      provider: 'GARMIN',
      reference_id: 'app-user-2',
    });
    for (const order of [
      [first, second],
      [second, first],
    ]) {
      const record = order.reduce<ConnectionRecord | undefined>(applyEvent, undefined);
      expect(record).toMatchObject({
        provider: 'GARMIN',
        reference_id: 'app-user-2',
        clock: { provider: stampOf(second), reference: stampOf(second) },
      });
    }
  });

  it('leaves the input record untouched', () => {
    const before = applyEvent(undefined, event({ kind: 'authenticated', scopes: ['sleep'] }));
    const copy = structuredClone(before);
    applyEvent(before, event({ kind: 'disconnected' }, T0 + 1000, 'evt-2'));
    expect(before).toStrictEqual(copy);
  });
});

describe('sameRecord', () => {
  const record = applyEvent(
    applyEvent(undefined, event({ kind: 'authenticated', scopes: ['sleep'] }, T0, 'evt-1')),
    event({ kind: 'scopes_changed', added: ['daily'], removed: [] }, T0 + 1000, 'evt-2'),
  );

  it('holds for a record and its copy', () => {
    expect(sameRecord(record, structuredClone(record))).toBe(true);
  });

  it('holds whatever order the fields were written in, at any depth', () => {
    const reversed = (value: unknown): unknown =>
      Array.isArray(value)
        ? value.map(reversed)
        : value !== null && typeof value === 'object'
          ? Object.fromEntries(
              Object.entries(value)
                .reverse()
                .map(([key, inner]) => [key, reversed(inner)]),
            )
          : value;
    const shuffled = reversed(record) as ConnectionRecord;
    expect(Object.keys(shuffled)).not.toEqual(Object.keys(record));
    expect(sameRecord(record, shuffled)).toBe(true);
    expect(sameRecord(shuffled, record)).toBe(true);
  });

  it('ignores fields that are present but undefined', () => {
    expect(sameRecord({ ...record, reason: undefined }, record)).toBe(true);
    expect(sameRecord(record, { ...record, reason: undefined })).toBe(true);
  });

  it('fails when there is no stored record yet', () => {
    expect(sameRecord(undefined, record)).toBe(false);
  });

  it.each<[string, (copy: ConnectionRecord) => void]>([
    ['the status', (copy) => (copy.status = 'revoked')],
    ['a field added', (copy) => (copy.reason = 'token_expired')],
    ['the order of the scopes', (copy) => copy.scopes.reverse()],
    ['a scope removed', (copy) => copy.scopes.pop()],
    ['a stamp', (copy) => (copy.clock.status = '0')],
    [
      'whether a delta grants its scope',
      (copy) => {
        const entry = copy.scope_changes.daily;
        if (entry) entry.present = false;
      },
    ],
  ])('fails when %s differs', (_, change) => {
    const copy = structuredClone(record);
    change(copy);
    expect(sameRecord(record, copy)).toBe(false);
    expect(sameRecord(copy, record)).toBe(false);
  });
});
