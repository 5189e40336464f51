import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Change, ConnectionEvent, ConnectionRecord } from '#shared/connections/model';
import { applyEvent, sameRecord } from '#shared/connections/transitions';
import { type OutboxAction, outboxActions, type RecordedDelivery } from '#shared/events/outbox';
import { expectBusEventContract } from '../helpers/event-contracts.ts';

/**
 * The outbox's promise to the app, for any order and duplication of a user's deliveries: the last
 * `terra.connection` published for a Terra user carries the status its record ends in, every published
 * change is a real change, and the same deliveries always yield the same event ids.
 */
const T0 = Date.UTC(2026, 5, 1);
const changeArb: fc.Arbitrary<Change> = fc.oneof(
  fc.constant<Change>({ kind: 'pending' }),
  fc.record({ kind: fc.constant('authenticated' as const), scopes: fc.shuffledSubarray(['sleep', 'daily']) }),
  fc.constant<Change>({ kind: 'connection_error', reason: 'token_expired' }),
  fc.constant<Change>({ kind: 'revoked' }),
  fc.constant<Change>({ kind: 'disconnected' }),
  fc.constant<Change>({ kind: 'auth_failed', reason: 'cancelled' }),
  fc.constant<Change>({ kind: 'replaced', replaced_by: 'user-next' }),
  fc.constant<Change>({ kind: 'data' }),
  fc.record({
    kind: fc.constant('scopes_changed' as const),
    added: fc.shuffledSubarray(['body']),
    removed: fc.shuffledSubarray(['sleep']),
  }),
);

const deliveriesArb = fc
  .array(fc.record({ change: changeArb, second: fc.integer({ min: 0, max: 6 }), anonymous: fc.boolean() }), {
    minLength: 1,
    maxLength: 25,
  })
  .map((drafts) =>
    drafts.map(
      ({ change, second, anonymous }, i): ConnectionEvent => ({
        user_id: 'user-a',
        reference_id: anonymous ? null : 'app-user-1',
        provider: 'GARMIN',
        event_id: `evt-${i}`,
        at: T0 + second * 1000,
        change,
      }),
    ),
  );

/** Redeliveries and a shuffle: the order Terra's at-least-once delivery may produce. */
const arrivalArb = fc.record({
  copies: fc.array(fc.nat(), { maxLength: 10 }),
  keys: fc.array(fc.nat({ max: 1000 }), { maxLength: 40 }),
});

function arrive(events: readonly ConnectionEvent[], arrival: { copies: number[]; keys: number[] }) {
  const all = [
    ...events,
    ...arrival.copies.map((i) => structuredClone(events[i % events.length] as ConnectionEvent)),
  ];
  return all
    .map((event, i) => ({ event, key: arrival.keys[i] ?? 0, i }))
    .sort((a, b) => a.key - b.key || a.i - b.i)
    .map(({ event }) => event);
}

/**
 * Applies events as the store does (no write when nothing changes) and collects what the stream says;
 * every event it means for the app must keep its JSON Schema (schemas/events/).
 */
function publish(events: readonly ConnectionEvent[]): {
  record: ConnectionRecord | undefined;
  actions: OutboxAction[];
} {
  let record: ConnectionRecord | undefined;
  const actions: OutboxAction[] = [];
  for (const event of events) {
    const next = applyEvent(record, event);
    if (!sameRecord(record, next)) {
      actions.push(...outboxActions({ kind: 'connection', ...(record ? { old: record } : {}), new: next }));
    }
    record = next;
  }
  for (const action of actions) {
    if (action.kind === 'connection')
      expectBusEventContract({ detailType: 'terra.connection', detail: action.detail });
  }
  return { record, actions };
}

const connectionEvents = (actions: OutboxAction[]) =>
  actions.flatMap((action) => (action.kind === 'connection' ? [action.detail] : []));

describe('the outbox, property-based', () => {
  it('publishes, last, the status the record ends in, whatever the arrival order and duplicates', () => {
    fc.assert(
      fc.property(deliveriesArb, arrivalArb, (events, arrival) => {
        const { record, actions } = publish(arrive(events, arrival));
        const published = connectionEvents(actions);
        expect(published.length).toBeGreaterThan(0);
        expect(published.at(-1)?.status).toBe(record?.status);
      }),
      { numRuns: 800 },
    );
  });

  it('publishes a status only when it changed, each change from the status before it', () => {
    fc.assert(
      fc.property(deliveriesArb, arrivalArb, (events, arrival) => {
        const published = connectionEvents(publish(arrive(events, arrival)).actions);
        published.forEach((event, i) => {
          expect(event.status).not.toBe(event.previous_status);
          expect(event.previous_status).toBe(i === 0 ? null : published[i - 1]?.status);
        });
      }),
      { numRuns: 800 },
    );
  });

  it('gives the same deliveries, arriving the same way again, the same event ids', () => {
    fc.assert(
      fc.property(deliveriesArb, arrivalArb, (events, arrival) => {
        const once = connectionEvents(publish(arrive(events, arrival)).actions).map((event) => event.id);
        const again = connectionEvents(publish(arrive(structuredClone(events), arrival)).actions).map(
          (event) => event.id,
        );
        expect(again).toEqual(once);
        expect(new Set(once).size).toBe(once.length);
      }),
      { numRuns: 400 },
    );
  });
});

describe('deliveries in the outbox', () => {
  const processed: RecordedDelivery = {
    event_id: 'evt-1',
    status: 'processed',
    data: true,
    user_id: 'user-a',
    type: 'sleep',
    archive_key: 'users/user-a/2026/06/01/evt-1.0123456789abcdef.json',
    bytes: 2,
    received_at: new Date(T0).toISOString(),
    at: T0,
    signed_at: T0 / 1000,
  };
  const delivery = (change: { old?: RecordedDelivery; new?: RecordedDelivery }) =>
    outboxActions({ kind: 'delivery', ...change });

  it('announces a data delivery the first time it is processed, and never again', () => {
    expect(delivery({ new: processed }).map((action) => action.kind)).toEqual(['data']);
    expect(delivery({ old: processed, new: { ...processed, replayed_at: 'now' } })).toEqual([]);
  });

  it('announces a stale delivery once a replay processes it', () => {
    const stale: RecordedDelivery = { ...processed, status: 'stale' };
    expect(delivery({ old: stale, new: processed }).map((action) => action.kind)).toEqual(['data']);
  });

  it('says nothing of a delivery that is failed, ignored or still in progress, nor of one removed', () => {
    for (const status of ['failed', 'ignored', 'received', 'stale', 'parked'] as const) {
      expect(delivery({ new: { ...processed, status } })).toEqual([]);
    }
    expect(delivery({ old: processed })).toEqual([]);
  });

  it('says nothing of a data delivery that names no Terra user', () => {
    const { user_id: _user, ...anonymous } = processed;
    expect(delivery({ new: { ...anonymous, terra_reference: 'ref-1' } })).toEqual([]);
  });

  it('counts a payload against its data request before announcing it', () => {
    expect(delivery({ new: { ...processed, terra_reference: 'ref-1', reference_id: 'app-1' } })).toEqual([
      {
        kind: 'track',
        user_id: 'user-a',
        reference: 'ref-1',
        facts: { event_id: 'evt-1', data_type: 'sleep', reference_id: 'app-1' },
      },
      { kind: 'data', delivery: { ...processed, terra_reference: 'ref-1', reference_id: 'app-1' } },
    ]);
  });

  it("counts Terra's announcement of a large request as what it expects, announcing nothing", () => {
    const sending: RecordedDelivery = {
      ...processed,
      type: 'large_request_sending',
      data: false,
      terra_reference: 'ref-2',
      expected_payloads: 12,
    };
    expect(delivery({ new: sending })).toEqual([
      { kind: 'track', user_id: 'user-a', reference: 'ref-2', facts: { large: true, expected: 12 } },
    ]);
    expect(delivery({ new: { ...sending, type: 'large_request_processing' } })).toEqual([
      { kind: 'track', user_id: 'user-a', reference: 'ref-2', facts: { large: true } },
    ]);
  });
});

describe('changes the app never hears of', () => {
  it('are bookkeeping and unreadable items', () => {
    for (const item of ['owner', 'parked', 'sdk_claim', 'checkpoint'] as const) {
      expect(outboxActions({ kind: 'bookkeeping', item })).toEqual([]);
    }
    expect(outboxActions({ kind: 'unknown', table: 'inbox', reason: 'delivery: status: invalid' })).toEqual(
      [],
    );
  });
});
