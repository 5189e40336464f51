import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { EVENT_TYPES, envelopeSchema, eventJsonSchema } from 'terra-connect/events';
import { describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import { SCHEMA_DIR, schemaFiles } from '#local/event-schemas';
import { envelopeOf } from '#local/pipeline';
import type { ConnectionEvent, ConnectionRecord } from '#shared/connections/model';
import { applyEvent } from '#shared/connections/transitions';
import type { BusEvent } from '#shared/events/bus-events';
import { type PublisherDeps, publishChanges } from '#shared/events/publisher';
import { decodeChange, type StreamImages } from '#shared/store/stream-changes';
import {
  ContractCheck,
  conformingTypes,
  contractViolations,
  expectContract,
} from '../helpers/event-contracts.ts';
import { MemoryArchive, recordingLog } from '../helpers/memory-ports.ts';

/**
 * The event contracts (README, "Events for your app"): one JSON Schema per detail-type, generated from the
 * zod schemas the detail types are inferred from, checked in under schemas/events/, and held against what
 * the publisher really emits. The tests that publish events check each one the same way
 * (test/helpers/event-contracts.ts); this file proves that check bites and covers every detail-type.
 */

describe('the checked-in JSON Schemas', () => {
  it('are exactly the ones the zod schemas generate, one per detail-type (else run npm run schemas)', () => {
    const expected = schemaFiles();
    expect(readdirSync(SCHEMA_DIR).sort(), 'the files in schemas/events/').toEqual(
      EVENT_TYPES.map((type) => `${type}.json`).sort(),
    );
    for (const [name, schema] of expected) {
      const stored = JSON.parse(readFileSync(join(SCHEMA_DIR, name), 'utf8')) as unknown;
      expect(stored, `schemas/events/${name} is stale: run npm run schemas`).toEqual(schema);
    }
  });

  it('describe the whole envelope in draft 4, with the detail-type and the source as one-value enums', () => {
    for (const type of EVENT_TYPES) {
      const schema = eventJsonSchema(type) as {
        $schema: string;
        properties: Record<string, { enum?: unknown[]; additionalProperties?: unknown }>;
        required: string[];
        additionalProperties?: unknown;
      };
      expect(schema.$schema).toBe('http://json-schema.org/draft-04/schema#');
      expect(schema.properties['detail-type']?.enum).toEqual([type]);
      expect(schema.properties.source?.enum).toEqual(['terra-connect']);
      expect(schema.required).toEqual(
        expect.arrayContaining(['version', 'id', 'detail-type', 'source', 'time', 'detail']),
      );
      // EventBridge owns the envelope (a replay adds `replay-name`); the publisher owns the detail.
      expect(schema.additionalProperties).toBeUndefined();
      expect(schema.properties.detail?.additionalProperties).toBe(false);
    }
  });

  it('are what the package exports, files and schemas alike', () => {
    const require = createRequire(import.meta.url);
    for (const type of EVENT_TYPES) {
      const file = require.resolve(`terra-connect/schemas/events/${type}.json`);
      expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(eventJsonSchema(type));
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// What the publisher emits, from the changes the tables' streams carry

const AT = Date.UTC(2026, 11, 1, 10, 0, 0, 123);
/** A record as the connections stream carries it: what the state machine makes of the event. */
const image = (event: ConnectionEvent, before?: ConnectionRecord) => ({
  ...applyEvent(before, event),
  sk: 'connection',
});
const connect = (change: ConnectionEvent['change'], at = AT): ConnectionEvent => ({
  user_id: 'terra-user-1',
  reference_id: 'alice',
  provider: 'GARMIN',
  event_id: `trace-${at}`,
  at,
  change,
});

const active = image(connect({ kind: 'authenticated', scopes: ['sleep'] }));
const payload = { type: 'sleep', user: { user_id: 'terra-user-1', provider: 'GARMIN' }, data: [{ a: 1 }] };
const archiveKey = 'users/terra-user-1/2026/12/01/trace-1.0123456789abcdef0123456789abcdef.json';

/** A data request as the backfill store writes it, answered by two payloads. */
const request = {
  event_id: 'request#terra-user-1#ref-1',
  user_id: 'terra-user-1',
  reference_id: 'alice',
  reference: 'ref-1',
  data_type: 'sleep',
  expected: 2,
  received: new Set(['trace-1', 'trace-3']),
  from: '2026-11-01',
  to: '2026-12-01',
};

/** A deletion job as the deletion store writes it. */
const deletion = {
  event_id: 'deletion#alice',
  reference_id: 'alice',
  deletion_id: 'deletion-1',
  user_ids: ['terra-user-1', 'terra-user-2'],
};

/** Changes that make one event of every detail-type, with each optional field both there and not. */
const CHANGES: StreamImages[] = [
  // terra.connection: a new record, then an error with its reason, then a reauth's replacement.
  { table: 'connections', new: active },
  {
    table: 'connections',
    old: active,
    new: image(connect({ kind: 'connection_error', reason: 'token_expired' }, AT + 1_000), active),
  },
  {
    table: 'connections',
    old: active,
    new: image(connect({ kind: 'replaced', replaced_by: 'terra-user-2' }, AT + 2_000), active),
  },
  // A record a data event made (its delivery named the app user): no provider, no status stamp.
  {
    table: 'connections',
    // The store writes the app user the delivery named (applyTogether); a data event sets no register.
    new: {
      ...image({
        user_id: 'terra-user-9',
        reference_id: 'bob',
        event_id: 'trace-9',
        at: AT,
        change: { kind: 'data' },
      }),
      reference_id: 'bob',
    },
  },
  // terra.data: inline and answering our history request; and another with no owner or reference.
  {
    table: 'inbox',
    new: {
      event_id: 'trace-1',
      status: 'processed',
      data: true,
      user_id: 'terra-user-1',
      reference_id: 'alice',
      provider: 'GARMIN',
      type: 'sleep',
      received_at: new Date(AT).toISOString(),
      archive_key: archiveKey,
      bytes: JSON.stringify(payload).length,
      terra_reference: 'ref-1',
    },
  },
  {
    table: 'inbox',
    new: {
      event_id: 'trace-2',
      status: 'processed',
      data: true,
      user_id: 'terra-user-9',
      type: 'activity',
      received_at: new Date(AT).toISOString(),
      archive_key: 'users/terra-user-9/2026/12/01/trace-2.json',
      bytes: 0,
    },
  },
  // terra.backfill: one complete with its window, one failed before any payload named its type.
  {
    table: 'inbox',
    old: { ...request, status: 'receiving', received: new Set(['trace-1']) },
    new: { ...request, status: 'complete' },
  },
  {
    table: 'inbox',
    new: {
      event_id: 'request#terra-user-9#ref-9',
      user_id: 'terra-user-9',
      status: 'failed',
      reason: 'Terra answered 429',
    },
  },
  // terra.user_deleted: a deletion job reaching done.
  {
    table: 'inbox',
    old: { ...deletion, status: 'running' },
    new: { ...deletion, status: 'done', finished_at: new Date(AT + 60_000).toISOString() },
  },
];

async function published(): Promise<BusEvent[]> {
  const archive = new MemoryArchive();
  await archive.put(archiveKey, Buffer.from(JSON.stringify(payload)));
  const events: BusEvent[] = [];
  const deps: PublisherDeps = {
    bus: {
      publish: async (batch) => {
        events.push(...batch);
        return [];
      },
    },
    records: {
      read: async (user_id) =>
        user_id === 'terra-user-1'
          ? { state: 'live', record: { ...active, reference_id: 'alice' } }
          : { state: 'missing' },
    },
    requests: {
      track: async (user_id, reference) => ({
        user_id,
        reference,
        origin: 'backfill',
        status: 'receiving',
        received: [],
        updated_at: new Date(AT).toISOString(),
      }),
    },
    archive,
    deadLetters: { send: async () => undefined },
    log: recordingLog(),
  };
  const changes = CHANGES.map(decodeChange);
  expect(changes.filter((change) => change.kind === 'unknown')).toEqual([]);
  expect(await publishChanges(deps, changes)).toBeUndefined();
  return events;
}

describe("the publisher's events", () => {
  it('keep their contract, every detail-type and every optional field present and absent', async () => {
    const events = await published();

    for (const event of events) expectContract(envelopeOf(event));

    const types = events.map((event) => event.detailType);
    expect(types.filter((type) => type === 'terra.connection')).toHaveLength(4);
    expect(types.filter((type) => type === 'terra.data')).toHaveLength(2);
    expect(types.filter((type) => type === 'terra.backfill')).toHaveLength(2);
    expect(types.filter((type) => type === 'terra.user_deleted')).toHaveLength(1);
    // The sample really has both shapes of each optional field.
    const details = events.map((event) => event.detail as Record<string, unknown>);
    for (const field of ['reason', 'replaced_by', 'data', 'terra_reference']) {
      expect(details.some((detail) => field in detail)).toBe(true);
    }
    expect(details.some((detail) => detail.reference_id === null)).toBe(true);
    expect(details.some((detail) => detail.provider === null)).toBe(true);
  });

  it('keep their contract to zod and to the draft-04 validator alike', async () => {
    for (const event of await published()) {
      const envelope = envelopeOf(event);
      expect(z.safeParse(envelopeSchema(event.detailType), envelope).success).toBe(true);
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// The check bites

/** A conforming envelope of each type, from the publisher itself, as JSON on the wire. */
async function samples(): Promise<Map<string, Record<string, unknown>>> {
  const map = new Map<string, Record<string, unknown>>();
  for (const event of await published())
    if (!map.has(event.detailType))
      map.set(event.detailType, JSON.parse(JSON.stringify(envelopeOf(event))) as Record<string, unknown>);
  return map;
}

type Breakage = [what: string, type: string, breakIt: (envelope: Record<string, unknown>) => void];
const detailOf = (envelope: Record<string, unknown>) => envelope.detail as Record<string, unknown>;

const BREAKAGES: Breakage[] = [
  ['an unknown field in the detail', 'terra.data', (e) => Object.assign(detailOf(e), { payload_key: 'k' })],
  ['a required detail field missing', 'terra.connection', (e) => delete detailOf(e).previous_status],
  ['a status outside the enum', 'terra.connection', (e) => Object.assign(detailOf(e), { status: 'gone' })],
  [
    'null where the field is never null',
    'terra.connection',
    (e) => Object.assign(detailOf(e), { user_id: null }),
  ],
  ['a time that is not RFC 3339', 'terra.connection', (e) => Object.assign(detailOf(e), { at: '' })],
  [
    'a time with a local offset',
    'terra.user_deleted',
    (e) => Object.assign(detailOf(e), { deleted_at: '2026-12-01 10:00' }),
  ],
  ['a data type Terra has not', 'terra.data', (e) => Object.assign(detailOf(e), { type: 'steps' })],
  ['a negative size', 'terra.data', (e) => Object.assign(detailOf(e), { bytes: -1 })],
  ['a fractional count', 'terra.backfill', (e) => Object.assign(detailOf(e), { received: 1.5 })],
  [
    'a date-time where a day is meant',
    'terra.backfill',
    (e) => Object.assign(detailOf(e), { from: '2026-11-01T00:00:00Z' }),
  ],
  [
    'an archive pointer with more than bucket and key',
    'terra.data',
    (e) => Object.assign(detailOf(e), { archive: { bucket: 'b', key: 'k', region: 'r' } }),
  ],
  [
    'user ids that are not strings',
    'terra.user_deleted',
    (e) => Object.assign(detailOf(e), { user_ids: [1] }),
  ],
  ['another source', 'terra.data', (e) => Object.assign(e, { source: 'aws.events' })],
  ['another envelope version', 'terra.backfill', (e) => Object.assign(e, { version: '1' })],
  [
    "another type's detail",
    'terra.user_deleted',
    (e) => Object.assign(e, { 'detail-type': 'terra.connection' }),
  ],
];

describe('the contract check', () => {
  it.each(BREAKAGES)('rejects %s (%s), as zod does', async (_what, type, breakIt) => {
    const envelope = (await samples()).get(type);
    expect(envelope).toBeDefined();
    if (!envelope) return;
    expect(contractViolations(envelope)).toEqual([]);

    breakIt(envelope);

    expect(contractViolations(envelope)).not.toEqual([]);
    expect(() => expectContract(envelope)).toThrow(/breaks its contract/);
    // One source: the zod schema the JSON Schema came from refuses it too.
    expect(z.safeParse(envelopeSchema(type as never), envelope).success).toBe(false);
  });

  it('rejects a detail-type it has no schema for, and takes an envelope field EventBridge adds', async () => {
    const envelope = (await samples()).get('terra.data') ?? {};
    expect(contractViolations({ ...envelope, 'detail-type': 'terra.unknown' })).toEqual([
      'detail-type "terra.unknown" has no schema in schemas/events/',
    ]);
    expect(contractViolations({ ...envelope, 'replay-name': 'replay-2026-12-01' })).toEqual([]);
  });

  it("fails a local stack's test at its next settle, feed read and stop, after the stack stopped", async () => {
    const contracts = new ContractCheck();
    let stopped = false;
    const stack = contracts.guard({
      pipeline: { feed: () => [], settled: async () => undefined, stop: async () => undefined },
      stop: async () => {
        stopped = true;
      },
    });
    const envelope = (await samples()).get('terra.connection') ?? {};
    contracts.check(envelope);
    await stack.pipeline.settled();

    contracts.check({ ...envelope, detail: { ...detailOf(envelope), status: 'gone' } });

    await expect(stack.pipeline.settled()).rejects.toThrow(/terra.connection \/detail\/status/);
    contracts.check({ ...envelope, source: 'elsewhere' });
    expect(() => stack.pipeline.feed()).toThrow(/\/source/);
    contracts.check({ ...envelope, version: '2' });
    await expect(stack.stop()).rejects.toThrow(/\/version/);
    expect(stopped).toBe(true);
  });

  it('has held an event of every detail-type to its schema in this file', () => {
    expect([...conformingTypes].sort()).toEqual([...EVENT_TYPES].sort());
  });
});
