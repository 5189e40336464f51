import { marshall } from '@aws-sdk/util-dynamodb';
import { describe, expect, it } from 'vitest';
import { toCommittedChange } from '#shared/aws/streams';
import type { ConnectionRecord } from '#shared/connections/model';
import { decodeChange } from '#shared/store/stream-changes';
import { CHECKPOINT_ID, deletionKey, RESERVED, reservedKind } from '#shared/store/tables';

/**
 * The store's decoder of stream images (shared/store/stream-changes.ts): each item kind the store writes
 * becomes its domain type, the bookkeeping items are named and say nothing, and an item that is not what
 * the store writes becomes `unknown` with a reason, never an exception. What the stores really write is
 * decoded in test/integration/outbox-stream.test.ts.
 */
const record: ConnectionRecord = {
  user_id: 'user-a',
  reference_id: 'app-1',
  provider: 'GARMIN',
  status: 'active',
  scopes: ['daily'],
  created_at: '2026-06-01T08:00:00.000Z',
  updated_at: '2026-06-01T08:00:00.000Z',
  clock: { status: '001780300800000.3.evt-1' },
  scopes_base: ['daily'],
  scope_changes: {},
};
const stored = { ...record, version: 3, backfill: { user_id: 'user-a', status: 'requested' } };

describe('reserved inbox keys', () => {
  it('are read back as the kind their builder wrote', () => {
    expect(reservedKind(RESERVED.owner('user-a'))).toBe('owner');
    expect(reservedKind(RESERVED.request('user-a', 'ref-1'))).toBe('request');
    expect(reservedKind(RESERVED.parked('user-a', 15))).toBe('parked');
    expect(reservedKind(RESERVED.sdkClaim('app-1'))).toBe('sdk_claim');
    expect(reservedKind(deletionKey('app-1'))).toBe('deletion');
    expect(reservedKind(CHECKPOINT_ID)).toBe('checkpoint');
  });

  it("tell a delivery's id (no #) from a reserved key of no known kind", () => {
    expect(reservedKind('2f1c0a7e-trace:chunk:3')).toBeUndefined();
    expect(reservedKind('legacy#1')).toBe('unknown');
    expect(reservedKind('constructor#1')).toBe('unknown');
  });
});

describe('decoding a connection record', () => {
  it('answers the record without its version and plan, before and after', () => {
    const change = decodeChange({
      table: 'connections',
      old: { ...stored, status: 'pending' },
      new: stored,
    });
    expect(change).toEqual({ kind: 'connection', old: { ...record, status: 'pending' }, new: record });
  });

  it('reads a removal as a record with nothing after it', () => {
    expect(decodeChange({ table: 'connections', old: stored })).toEqual({ kind: 'connection', old: record });
  });

  it('refuses a status the state machine does not have, or a record without its clock', () => {
    expect(decodeChange({ table: 'connections', new: { ...stored, status: 'paused' } })).toEqual({
      kind: 'unknown',
      table: 'connections',
      reason:
        'connection record (new image): status: expected one of pending, active, error, revoked, failed, disconnected, replaced',
    });
    const { clock: _clock, ...clockless } = stored;
    expect(decodeChange({ table: 'connections', old: clockless, new: stored })).toEqual({
      kind: 'unknown',
      table: 'connections',
      reason: 'connection record (old image): clock: expected object',
    });
  });
});

describe('decoding inbox items', () => {
  const delivery = {
    event_id: 'evt-1',
    status: 'processed',
    type: 'sleep',
    archive_key: 'users/user-a/2026/06/01/evt-1.0123456789abcdef.json',
    bytes: 2,
    received_at: '2026-06-01T08:01:00.000Z',
    at: 1_780_300_800_000,
    signed_at: 1_780_300_800,
    user_id: 'user-a',
    data: true,
    attempts: 1,
    expires_at: 1_782_892_860,
  };

  it('reads a delivery as recorded', () => {
    expect(decodeChange({ table: 'inbox', new: delivery })).toEqual({ kind: 'delivery', new: delivery });
  });

  it('refuses a delivery whose facts the event is built from have the wrong type', () => {
    expect(decodeChange({ table: 'inbox', new: { ...delivery, bytes: '2' } })).toEqual({
      kind: 'unknown',
      table: 'inbox',
      reason: 'delivery (new image): bytes: expected number',
    });
    expect(decodeChange({ table: 'inbox', new: { ...delivery, status: 'done' } })).toMatchObject({
      kind: 'unknown',
      reason: expect.stringMatching(/^delivery \(new image\): status: expected one of received, processed/),
    });
  });

  it('reads a data request with its payloads as a sorted list, however DynamoDB held them', () => {
    const request = {
      event_id: RESERVED.request('user-a', 'ref-1'),
      user_id: 'user-a',
      reference: 'ref-1',
      origin: 'backfill',
      status: 'complete',
      expected: 2,
      updated_at: '2026-06-01T08:01:00.000Z',
    };
    const { event_id: _key, ...unkeyed } = request;
    expect(
      decodeChange({
        table: 'inbox',
        old: { ...request, status: 'receiving', received: new Set(['evt-2']) },
        new: { ...request, received: new Set(['evt-2', 'evt-1']) },
      }),
    ).toStrictEqual({
      kind: 'data_request',
      old: { ...unkeyed, status: 'receiving', received: ['evt-2'] },
      new: { ...unkeyed, received: ['evt-1', 'evt-2'] },
    });
  });

  it("reads a request's reference from its key when the item has none, and its status as not settled yet", () => {
    const change = decodeChange({
      table: 'inbox',
      new: { event_id: RESERVED.request('user-a', 'ref-9'), user_id: 'user-a', origin: 'external' },
    });
    expect(change).toEqual({
      kind: 'data_request',
      new: { user_id: 'user-a', origin: 'external', reference: 'ref-9', received: [] },
    });
  });

  it('reads a deletion job without its key and expiry', () => {
    const job = {
      deletion_id: 'del-1',
      reference_id: 'app-1',
      status: 'done',
      phase: 'done',
      user_ids: ['user-a'],
      deauthorized: ['user-a'],
      started_at: '2026-06-01T08:00:00.000Z',
      finished_at: '2026-06-01T08:00:05.000Z',
      counts: { connections: 1, deliveries: 2, payloads: 2 },
      version: 4,
    };
    expect(
      decodeChange({
        table: 'inbox',
        new: { ...job, event_id: deletionKey('app-1'), expires_at: 1_782_892_860 },
      }),
    ).toStrictEqual({ kind: 'deletion', new: job });
  });

  it('names the bookkeeping items, whatever they hold', () => {
    const items = [
      {
        event_id: RESERVED.owner('user-a'),
        user_id: 'user-a',
        reference_id: 'app-1',
        requests: new Set(['r']),
      },
      { event_id: RESERVED.parked('user-a', 3), user_id: 'user-a', ids: new Set(['evt-1']) },
      { event_id: RESERVED.sdkClaim('app-1'), reference_id: 'app-1', claim_until: 1 },
      { event_id: CHECKPOINT_ID, checkpoint: {} },
    ];
    expect(items.map((item) => decodeChange({ table: 'inbox', old: item }))).toEqual([
      { kind: 'bookkeeping', item: 'owner' },
      { kind: 'bookkeeping', item: 'parked' },
      { kind: 'bookkeeping', item: 'sdk_claim' },
      { kind: 'bookkeeping', item: 'checkpoint' },
    ]);
  });

  it('answers unknown for an item without a key or under a reserved key of no kind', () => {
    expect(decodeChange({ table: 'inbox', new: { status: 'processed' } })).toEqual({
      kind: 'unknown',
      table: 'inbox',
      reason: 'an inbox item without an event_id',
    });
    expect(decodeChange({ table: 'inbox', new: { event_id: 'legacy#1' } })).toEqual({
      kind: 'unknown',
      table: 'inbox',
      reason: 'an inbox item under a reserved key of no known kind',
    });
  });
});

describe('a stream record, as Lambda hands it over', () => {
  const tables = { connectionsTable: 'connections', inboxTable: 'inbox' };
  const arn = (table: string) =>
    `arn:aws:dynamodb:eu-west-1:123456789012:table/${table}/stream/2026-06-01T00:00:00.000`;

  it("is decoded by its table's stream, an empty clock included", () => {
    const fresh = { ...stored, clock: {} };
    expect(
      toCommittedChange(
        { eventSourceARN: arn('connections'), dynamodb: { NewImage: marshall(fresh) as never } },
        tables,
      ),
    ).toEqual({ kind: 'connection', new: { ...record, clock: {} } });
  });

  it("is repaired where the DynamoDB Streams client reads an empty map back as '{}'", () => {
    const image = { ...marshall(stored), clock: {} };
    expect(
      toCommittedChange(
        { eventSourceARN: arn('connections'), dynamodb: { OldImage: image as never } },
        tables,
      ),
    ).toEqual({ kind: 'connection', old: { ...record, clock: {} } });
  });

  it("is nobody's change when it comes from another table", () => {
    expect(
      toCommittedChange(
        { eventSourceARN: arn('other'), dynamodb: { NewImage: marshall(stored) as never } },
        tables,
      ),
    ).toBeUndefined();
  });
});
