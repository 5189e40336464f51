import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Change,
  type ConnectionEvent,
  type ConnectionRecord,
  type ConnectionStatus,
  toConnection,
} from '#shared/connections/model';
import { applyEvent } from '#shared/connections/transitions';
import { referenceConnection, referenceOwner } from './reference-model.ts';

// Terra delivers at least once and in any order (docs/architecture.md, "The state machine"), yet any permutation of the same deliveries, with
// any duplicates, must end in the same records. `referenceConnection` is the spec as a sorted fold.

const TERMINAL: ReadonlySet<ConnectionStatus> = new Set<ConnectionStatus>([
  'failed',
  'disconnected',
  'replaced',
]);
const TERMINAL_KINDS: ReadonlySet<Change['kind']> = new Set<Change['kind']>([
  'auth_failed',
  'disconnected',
  'replaced',
]);

const T0 = Date.UTC(2026, 2, 1, 12, 0, 0);
const USER_IDS = ['user-a', 'user-b', 'user-c', 'user-d'] as const;
const SCOPES = ['activity', 'body', 'daily', 'nutrition', 'sleep'] as const;

interface User {
  user_id: string;
  reference_id: string | null;
}

// ---------------------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------------------

/** Six instants a second apart: small on purpose, so that many events tie on `at`. */
const atArb = fc.integer({ min: 0, max: 5 }).map((second) => T0 + second * 1000);
const providerArb = fc.option(fc.constantFrom('GARMIN', 'FITBIT', 'OURA'), { nil: undefined });
const scopeListArb = fc.shuffledSubarray([...SCOPES]);
const reasonArb = fc.constantFrom('invalid_credentials', 'token_expired', 'user_cancelled');
/** Short, so event ids both collide in prefix and compare lexicographically (`evt-12-…` < `evt-7-…`). */
const tagArb = fc.nat({ max: 20 });

const authenticatedArb: fc.Arbitrary<Change> = fc.record(
  {
    kind: fc.constant('authenticated' as const),
    scopes: scopeListArb,
    replaces: fc.constantFrom('user-old', 'user-b', 'user-z'),
  },
  { requiredKeys: ['kind'] },
);
const scopesFullArb: fc.Arbitrary<Change> = fc.record({
  kind: fc.constant('scopes_changed' as const),
  scopes: scopeListArb,
  // Present but meaningless next to a full set: the full set wins.
  added: scopeListArb,
  removed: scopeListArb,
});
const scopesDeltaArb: fc.Arbitrary<Change> = fc.record({
  kind: fc.constant('scopes_changed' as const),
  added: scopeListArb,
  removed: scopeListArb,
});

/** Everything one delivery can say about a single user (reauth pairs are built separately). */
const singleChangeArb: fc.Arbitrary<Change> = fc.oneof(
  { weight: 4, arbitrary: authenticatedArb },
  { weight: 1, arbitrary: reasonArb.map((reason): Change => ({ kind: 'auth_failed', reason })) },
  { weight: 1, arbitrary: fc.constant<Change>({ kind: 'disconnected' }) },
  { weight: 2, arbitrary: fc.constant<Change>({ kind: 'revoked' }) },
  {
    weight: 2,
    arbitrary: fc
      .option(reasonArb, { nil: undefined })
      .map(
        (reason): Change =>
          reason === undefined ? { kind: 'connection_error' } : { kind: 'connection_error', reason },
      ),
  },
  { weight: 2, arbitrary: scopesFullArb },
  { weight: 3, arbitrary: scopesDeltaArb },
  { weight: 3, arbitrary: fc.constant<Change>({ kind: 'data' }) },
  { weight: 2, arbitrary: fc.constant<Change>({ kind: 'pending' }) },
);
/** For single-user properties: also a bare `replaced` (the old half of a reauth). */
const userChangeArb: fc.Arbitrary<Change> = fc.oneof(
  { weight: 8, arbitrary: singleChangeArb },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom('user-new', 'user-newer')
      .map((by): Change => ({ kind: 'replaced', replaced_by: by })),
  },
);
const terminalChangeArb: fc.Arbitrary<Change> = userChangeArb.filter((change) =>
  TERMINAL_KINDS.has(change.kind),
);

/**
 * One Terra delivery, users named by index so that shrinking stays simple. A `user_reauth` yields two events
 * with one event id: the old user replaced, the new one authenticated with `replaces` (old_user may be null).
 */
type DeliverySpec =
  | {
      type: 'single';
      user: number;
      change: Change;
      at: number;
      provider?: string;
      tag: number;
      /** Terra leaves reference_id out of some deliveries (data events, a deauth): the user is not named. */
      anonymous?: boolean;
    }
  | {
      type: 'reauth';
      next: number;
      old: number | null;
      scopes?: string[];
      at: number;
      provider?: string;
      tag: number;
    };

const deliverySpecArb: fc.Arbitrary<DeliverySpec> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record(
      {
        type: fc.constant('single' as const),
        user: fc.nat({ max: 3 }),
        change: singleChangeArb,
        at: atArb,
        provider: fc.constantFrom('GARMIN', 'FITBIT', 'OURA'),
        tag: tagArb,
        anonymous: fc.boolean(),
      },
      { requiredKeys: ['type', 'user', 'change', 'at', 'tag', 'anonymous'] },
    ),
  },
  {
    weight: 1,
    arbitrary: fc.record(
      {
        type: fc.constant('reauth' as const),
        next: fc.nat({ max: 3 }),
        old: fc.option(fc.nat({ max: 2 }), { nil: null }),
        scopes: scopeListArb,
        at: atArb,
        provider: fc.constantFrom('GARMIN', 'FITBIT', 'OURA'),
        tag: tagArb,
      },
      { requiredKeys: ['type', 'next', 'old', 'at', 'tag'] },
    ),
  },
);

const usersArb: fc.Arbitrary<User[]> = fc
  .record({
    count: fc.integer({ min: 2, max: 4 }),
    references: fc.array(fc.option(fc.constantFrom('app-user-1', 'app-user-2'), { nil: null }), {
      minLength: 4,
      maxLength: 4,
    }),
  })
  .map(({ count, references }) =>
    USER_IDS.slice(0, count).map((user_id, i) => ({ user_id, reference_id: references[i] ?? null })),
  );

function eventOf(user: User, spec: { at: number; provider?: string }, event_id: string, change: Change) {
  const event: ConnectionEvent = {
    user_id: user.user_id,
    reference_id: user.reference_id,
    event_id,
    at: spec.at,
    change,
  };
  if (spec.provider !== undefined) event.provider = spec.provider;
  return event;
}

/** The events of a list of deliveries; event ids are unique per delivery (`evt-<tag>-<index>`). */
function eventsOf(users: readonly User[], specs: readonly DeliverySpec[]): ConnectionEvent[] {
  const pick = (index: number): User => users[index % users.length]!;
  return specs.flatMap((spec, index): ConnectionEvent[] => {
    const id = `evt-${spec.tag}-${index}`;
    if (spec.type === 'single') {
      const user = pick(spec.user);
      return [eventOf(spec.anonymous ? { ...user, reference_id: null } : user, spec, id, spec.change)];
    }
    const next = spec.next % users.length;
    const added: Change = { kind: 'authenticated' };
    if (spec.scopes !== undefined) added.scopes = spec.scopes;
    if (spec.old === null) return [eventOf(pick(next), spec, id, added)];
    // Any user but `next`, so that a reauth never replaces a user by itself.
    const old = pick(next + 1 + (spec.old % (users.length - 1)));
    const newUser = pick(next);
    return [
      eventOf(old, spec, id, { kind: 'replaced', replaced_by: newUser.user_id }),
      eventOf(newUser, spec, id, { ...added, replaces: old.user_id }),
    ];
  });
}

/** How the deliveries arrive: which are delivered again (as fresh copies), and a shuffle of them all. */
interface Arrival {
  duplicates: number[];
  keys: number[];
}
const arrivalArb: fc.Arbitrary<Arrival> = fc.record({
  duplicates: fc.array(fc.nat(), { maxLength: 15 }),
  keys: fc.array(fc.nat({ max: 1000 }), { maxLength: 80 }),
});

function arrive(events: readonly ConnectionEvent[], arrival: Arrival): ConnectionEvent[] {
  const redelivered = arrival.duplicates.map((i) => structuredClone(events[i % events.length]!));
  return [...events, ...redelivered]
    .map((event, i) => ({ event, key: arrival.keys[i] ?? 0, i }))
    .sort((a, b) => a.key - b.key || a.i - b.i)
    .map(({ event }) => event);
}

const scenarioArb = fc.record({
  users: usersArb,
  deliveries: fc.array(deliverySpecArb, { minLength: 1, maxLength: 30 }),
  arrival: arrivalArb,
  otherArrival: arrivalArb,
});

/** A run of events for one user, ids unique within the run. */
function userEventsArb(prefix: string, constraints: { minLength?: number; maxLength: number }) {
  return fc
    .array(fc.record({ change: userChangeArb, at: atArb, provider: providerArb, tag: tagArb }), constraints)
    .map((drafts) =>
      drafts.map(({ change, at, provider, tag }, i) =>
        eventOf(
          { user_id: 'user-a', reference_id: 'app-user-1' },
          { at, provider },
          `${prefix}-${tag}-${i}`,
          change,
        ),
      ),
    );
}

// ---------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------

function applyAll(
  events: readonly ConnectionEvent[],
  records = new Map<string, ConnectionRecord>(),
): Map<string, ConnectionRecord> {
  for (const event of events) records.set(event.user_id, applyEvent(records.get(event.user_id), event));
  return records;
}

function fold(events: readonly ConnectionEvent[], start?: ConnectionRecord): ConnectionRecord | undefined {
  let record = start;
  for (const event of events) record = applyEvent(record, event);
  return record;
}

/** The whole record, internal registers included: nothing in it may depend on arrival order. */
const orderFree = (record: ConnectionRecord | undefined) => record;

function byUser(events: readonly ConnectionEvent[]): Map<string, ConnectionEvent[]> {
  const groups = new Map<string, ConnectionEvent[]>();
  for (const event of events) groups.set(event.user_id, [...(groups.get(event.user_id) ?? []), event]);
  return groups;
}

const at = (second: number): number => T0 + second * 1000;
const iso = (second: number): string => new Date(at(second)).toISOString();

function event(user_id: string, second: number, event_id: string, change: Change, provider?: string) {
  return eventOf({ user_id, reference_id: 'app-user-1' }, { at: at(second), provider }, event_id, change);
}

function connectionAfter(events: readonly ConnectionEvent[], user_id: string) {
  const record = applyAll(events).get(user_id);
  if (record === undefined) throw new Error(`no record for ${user_id}`);
  return toConnection(record);
}

// ---------------------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------------------

describe('applyEvent, property-based', () => {
  it('ends, for every user, in the record the sorted fold of the distinct events gives, whatever the arrival order and duplicates', () => {
    fc.assert(
      fc.property(scenarioArb, ({ users, deliveries, arrival }) => {
        const events = eventsOf(users, deliveries);
        const records = applyAll(arrive(events, arrival));
        const groups = byUser(events);

        expect([...records.keys()].sort()).toEqual([...groups.keys()].sort());
        for (const [userId, own] of groups) {
          const record = records.get(userId)!;
          expect(toConnection(record)).toStrictEqual(referenceConnection(own));
          // One record per Terra user, owned by the app user its connection events name (if any does).
          expect(record.reference_id).toBe(referenceOwner(own));
        }
      }),
      { numRuns: 600 },
    );
  });

  it('ends in identical records, internal registers included, for two arrival orders of the same deliveries', () => {
    fc.assert(
      fc.property(scenarioArb, ({ users, deliveries, arrival, otherArrival }) => {
        const events = eventsOf(users, deliveries);
        const one = applyAll(arrive(events, arrival));
        const other = applyAll(arrive(events, otherArrival));

        expect([...other.keys()].sort()).toEqual([...one.keys()].sort());
        for (const [userId, record] of one)
          expect(orderFree(other.get(userId))).toStrictEqual(orderFree(record));
      }),
      { numRuns: 600 },
    );
  });

  it('changes nothing when the same event is applied twice in a row', () => {
    fc.assert(
      fc.property(
        userEventsArb('evt', { maxLength: 12 }),
        fc.record({ change: userChangeArb, at: atArb, provider: providerArb }),
        (history, { change, at: time, provider }) => {
          const next = eventOf(
            { user_id: 'user-a', reference_id: 'app-user-1' },
            { at: time, provider },
            'new',
            change,
          );
          const once = applyEvent(fold(history), next);
          const twice = applyEvent(once, structuredClone(next));
          expect(orderFree(twice)).toStrictEqual(orderFree(once));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('changes nothing when an event applied earlier, before others, is delivered again', () => {
    fc.assert(
      fc.property(userEventsArb('evt', { minLength: 1, maxLength: 15 }), fc.nat(), (history, pick) => {
        const record = fold(history)!;
        const again = applyEvent(record, structuredClone(history[pick % history.length]!));
        expect(orderFree(again)).toStrictEqual(orderFree(record));
      }),
      { numRuns: 1000 },
    );
  });

  it('never lets a later-arriving event move a terminal connection to a non-terminal status', () => {
    fc.assert(
      fc.property(
        userEventsArb('before', { maxLength: 8 }),
        fc.record({ change: terminalChangeArb, at: atArb, provider: providerArb }),
        userEventsArb('after', { maxLength: 12 }),
        (before, terminal, after) => {
          const ending = eventOf(
            { user_id: 'user-a', reference_id: 'app-user-1' },
            { at: terminal.at, provider: terminal.provider },
            'terminal',
            terminal.change,
          );
          let record = fold([...before, ending])!;
          expect(TERMINAL.has(record.status)).toBe(true);
          for (const next of after) {
            const updated = applyEvent(record, next);
            expect(TERMINAL.has(updated.status)).toBe(true);
            if (!TERMINAL_KINDS.has(next.change.kind)) {
              // Only an earlier terminal event may still take the status over; nothing else touches it.
              expect([updated.status, updated.reason, updated.replaced_by]).toEqual([
                record.status,
                record.reason,
                record.replaced_by,
              ]);
            }
            record = updated;
          }
          expect(toConnection(record)).toStrictEqual(referenceConnection([...before, ending, ...after]));
        },
      ),
      { numRuns: 600 },
    );
  });
});

// ---------------------------------------------------------------------------------------------------------
// Examples
// ---------------------------------------------------------------------------------------------------------

describe('user_reauth', () => {
  it('replaces the old connection even when the reauth arrives before its auth', () => {
    const auth = event('user-old', 1, 'evt-auth', { kind: 'authenticated', scopes: ['sleep'] }, 'GARMIN');
    const reauthOld = event(
      'user-old',
      2,
      'evt-reauth',
      { kind: 'replaced', replaced_by: 'user-new' },
      'GARMIN',
    );
    const reauthNew = event(
      'user-new',
      2,
      'evt-reauth',
      { kind: 'authenticated', replaces: 'user-old', scopes: ['sleep'] },
      'GARMIN',
    );
    const events = [reauthOld, reauthNew, auth];

    expect(connectionAfter(events, 'user-old')).toMatchObject({
      status: 'replaced',
      replaced_by: 'user-new',
    });
    expect(connectionAfter(events, 'user-new')).toMatchObject({ status: 'active', replaces: 'user-old' });
  });

  it('keeps the old connection replaced when an auth newer than the reauth arrives for it', () => {
    const events = [
      event('user-old', 2, 'evt-reauth', { kind: 'replaced', replaced_by: 'user-new' }),
      event('user-old', 3, 'evt-auth', { kind: 'authenticated' }),
    ];
    expect(connectionAfter(events, 'user-old')).toMatchObject({
      status: 'replaced',
      replaced_by: 'user-new',
    });
  });
});

describe('deauth', () => {
  it('keeps a connection disconnected when an older auth arrives late', () => {
    const events = [
      event('user-a', 2, 'evt-deauth', { kind: 'disconnected' }),
      event('user-a', 1, 'evt-auth', { kind: 'authenticated', scopes: ['activity'] }, 'OURA'),
    ];
    expect(connectionAfter(events, 'user-a')).toStrictEqual({
      user_id: 'user-a',
      provider: 'OURA',
      status: 'disconnected',
      scopes: ['activity'],
      created_at: iso(1),
      updated_at: iso(2),
    });
  });

  it('gives way to an older auth failure that arrives late, the earliest terminal state winning', () => {
    const events = [
      event('user-a', 3, 'evt-deauth', { kind: 'disconnected' }),
      event('user-a', 1, 'evt-failed', { kind: 'auth_failed', reason: 'invalid_credentials' }),
    ];
    expect(connectionAfter(events, 'user-a')).toMatchObject({
      status: 'failed',
      reason: 'invalid_credentials',
    });
  });
});

describe('connection_error', () => {
  it('ignores an older connection_error after a newer auth', () => {
    const events = [
      event('user-a', 3, 'evt-auth', { kind: 'authenticated' }),
      event('user-a', 1, 'evt-error', { kind: 'connection_error', reason: 'token_expired' }),
    ];
    const connection = connectionAfter(events, 'user-a');
    expect(connection.status).toBe('active');
    expect(connection).not.toHaveProperty('reason');
  });

  it('clears its reason once a newer auth is applied', () => {
    const events = [
      event('user-a', 1, 'evt-error', { kind: 'connection_error', reason: 'token_expired' }),
      event('user-a', 2, 'evt-auth', { kind: 'authenticated' }),
    ];
    expect(connectionAfter(events, 'user-a')).not.toHaveProperty('reason');
  });

  it('wins over an auth at the same instant, by the fixed rank of kinds', () => {
    const events = [
      event('user-a', 1, 'evt-z', { kind: 'connection_error' }),
      event('user-a', 1, 'evt-a', { kind: 'authenticated' }),
    ];
    expect(connectionAfter(events, 'user-a').status).toBe('error');
  });
});

describe('pending', () => {
  it('yields to an auth from Terra even when the pending mark carries the later time', () => {
    const events = [
      event('user-a', 1, 'evt-auth', { kind: 'authenticated' }),
      event('user-a', 3, 'connect:user-a', { kind: 'pending' }),
    ];
    expect(connectionAfter(events, 'user-a').status).toBe('active');
  });

  it('marks a connection with nothing from Terra yet as pending', () => {
    const events = [event('user-a', 1, 'connect:user-a', { kind: 'pending' }, 'GARMIN')];
    expect(connectionAfter(events, 'user-a')).toMatchObject({ status: 'pending', provider: 'GARMIN' });
  });
});

describe('access_revoked', () => {
  it('outranks a pending at the same instant, whatever the event ids', () => {
    const events = [
      event('user-a', 1, 'evt-b', { kind: 'pending' }),
      event('user-a', 1, 'evt-a', { kind: 'revoked' }),
    ];
    expect(connectionAfter(events, 'user-a').status).toBe('revoked');
  });
});

describe('permission_change', () => {
  it('applies a delta newer than the full scope set even when the delta arrives first', () => {
    const events = [
      event('user-a', 3, 'evt-delta', { kind: 'scopes_changed', added: ['sleep'], removed: ['body'] }),
      event('user-a', 2, 'evt-full', {
        kind: 'scopes_changed',
        scopes: ['activity', 'body'],
        added: [],
        removed: [],
      }),
    ];
    expect(connectionAfter(events, 'user-a').scopes).toEqual(['activity', 'sleep']);
  });

  it('drops a delta older than the latest full scope set', () => {
    const events = [
      event('user-a', 2, 'evt-auth', { kind: 'authenticated', scopes: ['daily'] }),
      event('user-a', 1, 'evt-delta', { kind: 'scopes_changed', added: ['sleep'], removed: ['daily'] }),
    ];
    expect(connectionAfter(events, 'user-a').scopes).toEqual(['daily']);
  });

  it('lets a removal win over an addition of the same scope in one delta', () => {
    const events = [
      event('user-a', 1, 'evt-delta', { kind: 'scopes_changed', added: ['sleep'], removed: ['sleep'] }),
    ];
    expect(connectionAfter(events, 'user-a').scopes).toEqual([]);
  });

  it('still moves the scopes of a disconnected connection', () => {
    const events = [
      event('user-a', 1, 'evt-deauth', { kind: 'disconnected' }),
      event('user-a', 2, 'evt-delta', { kind: 'scopes_changed', added: ['sleep'], removed: [] }),
    ];
    expect(connectionAfter(events, 'user-a')).toMatchObject({ status: 'disconnected', scopes: ['sleep'] });
  });
});

describe('data events', () => {
  it('touch last_webhook_update with the newest data time and leave the status alone', () => {
    const events = [
      event('user-a', 4, 'evt-data-new', { kind: 'data' }),
      event('user-a', 1, 'evt-auth', { kind: 'authenticated' }),
      event('user-a', 2, 'evt-data-old', { kind: 'data' }),
      event('user-a', 5, 'evt-revoked', { kind: 'revoked' }),
    ];
    expect(connectionAfter(events, 'user-a')).toMatchObject({
      status: 'revoked',
      last_webhook_update: iso(4),
      created_at: iso(1),
      updated_at: iso(5),
    });
  });

  it('leave a connection with no connection event active and unowned, dated by its latest data', () => {
    const events = [
      event('user-a', 2, 'evt-2', { kind: 'data' }, 'FITBIT'),
      event('user-a', 1, 'evt-1', { kind: 'data' }, 'GARMIN'),
    ];
    const record = applyAll(events).get('user-a');
    expect(record?.reference_id).toBeUndefined();
    expect(connectionAfter(events, 'user-a')).toMatchObject({
      status: 'active',
      provider: 'UNKNOWN',
      created_at: iso(2),
      updated_at: iso(2),
      last_webhook_update: iso(2),
    });
  });

  it('touch only last_webhook_update on an existing record, so one blind conditional update applies them', () => {
    fc.assert(
      fc.property(userEventsArb('evt', { minLength: 1, maxLength: 12 }), atArb, (history, time) => {
        const before = fold(history);
        if (before === undefined) return;
        const after = applyEvent(before, {
          user_id: 'user-a',
          reference_id: 'app-user-1',
          provider: 'OURA',
          event_id: 'data-new',
          at: time,
          change: { kind: 'data' },
        });
        const { last_webhook_update: _a, ...restAfter } = after;
        const { last_webhook_update: _b, ...restBefore } = before;
        expect(restAfter).toStrictEqual(restBefore);
        const newest = [before.last_webhook_update, new Date(time).toISOString()]
          .filter(Boolean)
          .sort()
          .at(-1);
        expect(after.last_webhook_update).toBe(newest);
      }),
      { numRuns: 500 },
    );
  });
});

describe('reference-less deliveries', () => {
  it('land on the one record of their Terra user, whichever arrives first', () => {
    const anonymousData = eventOf({ user_id: 'user-a', reference_id: null }, { at: at(1) }, 'evt-data', {
      kind: 'data',
    });
    const auth = event('user-a', 2, 'evt-auth', { kind: 'authenticated' }, 'GARMIN');
    const anonymousDeauth = eventOf({ user_id: 'user-a', reference_id: null }, { at: at(3) }, 'evt-deauth', {
      kind: 'disconnected',
    });
    for (const order of [
      [anonymousData, auth, anonymousDeauth],
      [anonymousDeauth, anonymousData, auth],
      [auth, anonymousDeauth, anonymousData],
    ]) {
      const records = applyAll(order);
      expect([...records.keys()]).toEqual(['user-a']);
      expect(records.get('user-a')).toMatchObject({ reference_id: 'app-user-1', status: 'disconnected' });
    }
  });
});
