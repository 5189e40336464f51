import { createHash } from 'node:crypto';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { type ParsedWebhook, parseWebhook } from '#shared/terra/events';
import { type Arrival, identify, subjectOf, unreachable } from '#shared/webhooks/identify';
import {
  accessRevoked,
  authCancelled,
  authSuccess,
  dataEvent,
  deauth,
  healthcheck,
  informational,
  labReport,
  largeRequestSending,
  PROVIDER,
  REFERENCE_ID,
  s3Payload,
  TERRA_NEW_USER_ID,
  TERRA_USER_ID,
  terraUser,
  userReauth,
  without,
} from '../helpers/terra-fixtures.ts';

/**
 * `identify`: what a verified delivery is, from its headers and bytes alone, the same for the normal path
 * and the stale quarantine. `subjectOf`: whom its payload is about. Both pure; the receiver's use of them
 * is test/unit/receive.test.ts.
 */

/** The signature time of every arrival here, 2025-07-01T09:02:33Z, and its receipt 250 ms later. */
const T = 1_751_360_553;
const RECEIVED = T * 1000 + 250;
const TRACE = '5f0c8a2e-6b1d-4c3a-9e7f-0a1b2c3d4e5f';

function arrival(headers: Record<string, string>, payload: unknown = deauth()): Arrival {
  const body = Buffer.isBuffer(payload) ? payload : Buffer.from(JSON.stringify(payload));
  return { headers, body, signed_at: T, received_at: RECEIVED };
}

const sha256 = (body: Buffer) => createHash('sha256').update(body).digest('hex');

describe('identify', () => {
  it('names a delivery by its trace id and gives its first facts, naming nobody yet', () => {
    const delivery = arrival({ 'x-terra-trace-id': TRACE });
    const { facts, sha256: hash, parsed } = identify(delivery);
    expect(facts).toStrictEqual({
      event_id: TRACE,
      type: 'deauth',
      archive_key: '',
      bytes: delivery.body.length,
      body_sha256: sha256(delivery.body),
      received_at: RECEIVED,
      at: T * 1000,
      signed_at: T,
    });
    expect(hash).toBe(sha256(delivery.body));
    expect(parsed?.kind).toBe('connection');
  });

  describe('the event id', () => {
    const hashed = (delivery: Arrival) => `sha256:${sha256(delivery.body)}`;
    it.each<[string, Record<string, string>, string | 'hash']>([
      ['a trace id', { 'x-terra-trace-id': TRACE }, TRACE],
      ['a trace id in spaces and tabs', { 'x-terra-trace-id': ` \t${TRACE} ` }, TRACE],
      ['the longest trace id', { 'x-terra-trace-id': 't'.repeat(200) }, 't'.repeat(200)],
      ['a trace id of dots and more', { 'x-terra-trace-id': '.a.' }, '.a.'],
      ['no trace id', {}, 'hash'],
      ['a blank trace id', { 'x-terra-trace-id': '   ' }, 'hash'],
      ['an empty trace id', { 'x-terra-trace-id': '' }, 'hash'],
      ['one of our own keys', { 'x-terra-trace-id': 'reconcile#checkpoint' }, 'hash'],
      ['a path', { 'x-terra-trace-id': '../users/x' }, 'hash'],
      ['dots alone', { 'x-terra-trace-id': '..' }, 'hash'],
      ['a trace id one character too long', { 'x-terra-trace-id': 't'.repeat(201) }, 'hash'],
      ['a trace id with a space inside', { 'x-terra-trace-id': 'a b' }, 'hash'],
      // The handler lower-cases header names; another spelling is not read.
      ['a header name not lower-cased', { 'X-Terra-Trace-Id': TRACE }, 'hash'],
      // Every chunk of a large request shares it: never an identity.
      ['only a terra-reference', { 'terra-reference': TRACE }, 'hash'],
    ])('given %s is %s', (_, headers, expected) => {
      const delivery = arrival(headers);
      expect(identify(delivery).facts.event_id).toBe(expected === 'hash' ? hashed(delivery) : expected);
    });

    it('by its hash tells two bodies apart, and names the same bytes the same', () => {
      const one = identify(arrival({}, deauth())).facts.event_id;
      expect(identify(arrival({}, deauth())).facts.event_id).toBe(one);
      expect(identify(arrival({}, accessRevoked())).facts.event_id).not.toBe(one);
    });
  });

  describe('terra-reference', () => {
    it.each<[string, Record<string, string>, string | undefined]>([
      ['kept', { 'terra-reference': 'req-42:chunk:1' }, 'req-42:chunk:1'],
      ['kept trimmed', { 'terra-reference': ' req-42 ' }, 'req-42'],
      ['absent', {}, undefined],
      ['blank', { 'terra-reference': '  ' }, undefined],
      ['not an identifier', { 'terra-reference': 'deletion#user' }, undefined],
      ['too long', { 'terra-reference': 'r'.repeat(201) }, undefined],
    ])('is %s', (_, headers, expected) => {
      const { facts } = identify(arrival({ 'x-terra-trace-id': TRACE, ...headers }));
      if (expected === undefined) expect(facts).not.toHaveProperty('terra_reference');
      else expect(facts.terra_reference).toBe(expected);
    });
  });

  describe('the ordering time', () => {
    const SIGNED = T * 1000;
    it.each<[string, string | undefined, number]>([
      ['epoch seconds', '1751360000', 1_751_360_000_000],
      ['epoch milliseconds', '1751360553891', 1_751_360_553_891],
      ['epoch nanoseconds', '1751360553891234567', 1_751_360_553_891],
      ['ISO-8601 with a zone', '2025-06-30T08:00:00.000+02:00', Date.parse('2025-06-30T06:00:00Z')],
      ['a date alone, UTC', '2025-06-30', Date.parse('2025-06-30T00:00:00Z')],
      ['epoch zero, which is a time', '0', 0],
      ['absent: the signature time', undefined, SIGNED],
      ['empty: the signature time', '', SIGNED],
      ['blank: the signature time', '  ', SIGNED],
      ['a word: the signature time', 'soon', SIGNED],
      ['negative: the signature time', '-5', SIGNED],
      ['a number with a unit: the signature time', '1751360553s', SIGNED],
      ['a date-time without a zone: the signature time', '2025-06-30T08:00:00', SIGNED],
      ['past any date: the signature time', '9'.repeat(25), SIGNED],
    ])('is %s', (_, header, expected) => {
      const headers: Record<string, string> = { 'x-terra-trace-id': TRACE };
      if (header !== undefined) headers['x-terra-ordering-timestamp'] = header;
      expect(identify(arrival(headers)).facts.at).toBe(expected);
    });

    it('stamps every event the payload yields with it, and with the event id', () => {
      const ordering = '2025-06-30T08:00:00.000Z';
      const { parsed } = identify(
        arrival({ 'x-terra-trace-id': TRACE, 'x-terra-ordering-timestamp': ordering }, userReauth()),
      );
      if (parsed?.kind !== 'connection') throw new Error(`a reauth parsed as ${parsed?.kind}`);
      expect(parsed.events.map(({ event_id, at }) => ({ event_id, at }))).toStrictEqual([
        { event_id: TRACE, at: Date.parse(ordering) },
        { event_id: TRACE, at: Date.parse(ordering) },
      ]);
    });
  });

  describe('the type and kind', () => {
    const invalidUtf8 = Buffer.concat([Buffer.from('{"type":"'), Buffer.from([0xff]), Buffer.from('"}')]);
    it.each<[string, unknown, string, ParsedWebhook['kind'] | undefined]>([
      ['an auth', authSuccess(), 'auth', 'connection'],
      ['a data event', dataEvent('sleep'), 'sleep', 'data'],
      ['an s3_payload', s3Payload(), 's3_payload', 's3_payload'],
      ['a large request', largeRequestSending(), 'large_request_sending', 'tracking'],
      ['a healthcheck', healthcheck(), 'healthcheck', 'ignored'],
      ['JSON that is no webhook', [1, 2], 'unknown', 'ignored'],
      ['cut-off JSON', Buffer.from('{"type":"auth",'), 'malformed', undefined],
      ['an empty body', Buffer.alloc(0), 'malformed', undefined],
      ['JSON in bytes that are not UTF-8', invalidUtf8, 'malformed', undefined],
    ])('of %s', (_, payload, type, kind) => {
      const { facts, parsed } = identify(arrival({ 'x-terra-trace-id': TRACE }, payload));
      expect(facts.type).toBe(type);
      expect(parsed?.kind).toBe(kind);
    });
  });

  it('gives every delivery facts of its own, since the pipeline fills them in', () => {
    const delivery = arrival({ 'x-terra-trace-id': TRACE });
    const first = identify(delivery);
    first.facts.user_id = TERRA_USER_ID;
    expect(identify(delivery).facts).not.toHaveProperty('user_id');
  });
});

describe('subjectOf', () => {
  const parsed = (payload: unknown) => parseWebhook(payload, { event_id: TRACE, at: T * 1000 });
  const example = { user_id: TERRA_USER_ID, reference_id: REFERENCE_ID, provider: PROVIDER };

  it.each<[string, unknown, object | undefined]>([
    ['an auth: its user', authSuccess(), example],
    ['a reauth: the new user', userReauth(), { ...example, user_id: TERRA_NEW_USER_ID }],
    [
      'a deauth naming no app user: its user, and no one',
      deauth({ user: terraUser({ reference_id: null }) }),
      { ...example, reference_id: null },
    ],
    [
      'an event whose user names no provider',
      { ...deauth(), user: without(terraUser(), 'provider') },
      { user_id: TERRA_USER_ID, reference_id: REFERENCE_ID },
    ],
    ['a data event: its user', dataEvent('activity'), example],
    ['a large request: its user', largeRequestSending(), example],
    ['an informational event: the user it carries', informational('rate_limit_hit'), example],
    ['a healthcheck: nobody', healthcheck(), undefined],
    ['a lab report without a user: nobody', labReport('completed'), undefined],
    ['a cancelled login: nobody (it names only an app user)', authCancelled(), undefined],
    ['an s3_payload: nobody until downloaded', s3Payload(), undefined],
    ['a shape that does not fit: nobody', { type: 'deauth', user: 'x' }, undefined],
  ])('of %s', (_, payload, expected) => {
    const subject = subjectOf(parsed(payload));
    // A connection event is its own subject: only the subject's fields are compared.
    const named = subject && {
      user_id: subject.user_id,
      reference_id: subject.reference_id,
      provider: subject.provider,
    };
    expect(named).toEqual(expected);
  });

  it('makes a new kind of ParsedWebhook without a decided subject a compile error', () => {
    // subjectOf's switch ends in `unreachable(parsed)`, which takes only `never`: what is left of the
    // union once every case has taken its kind. These are its cases; a kind added to ParsedWebhook
    // leaves something there, and `tsc` (npm run typecheck) fails in subjectOf.
    type Undecided = Exclude<
      ParsedWebhook,
      { kind: 'connection' | 'data' | 'tracking' | 'ignored' | 's3_payload' }
    >;
    expectTypeOf<Undecided>().toBeNever();
    const newKind = { kind: 'sleep_score', type: 'sleep_score' } as const;
    // @ts-expect-error Argument of type '{ kind: "sleep_score"; … }' is not assignable to 'never'.
    expect(() => unreachable(newKind)).toThrow(/sleep_score/);
  });
});
