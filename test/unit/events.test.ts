import { describe, expect, it } from 'vitest';
import type { ConnectionEvent } from '#shared/connections/model';
import { USER_DATA_EVENT_TYPES, type UserDataEventType } from '#shared/terra/data-types';
import { type DeliveryMeta, type IgnoredReason, parseWebhook } from '#shared/terra/events';
import {
  accessRevoked,
  authCancelled,
  authSuccess,
  connectionError,
  dataEvent,
  deauth,
  healthcheck,
  informational,
  labReport,
  largeRequestProcessing,
  largeRequestSending,
  legacyAuthError,
  PROVIDER,
  permissionChange,
  REFERENCE_ID,
  s3Payload,
  TERRA_NEW_USER_ID,
  TERRA_USER_ID,
  terraUser,
  userReauth,
  without,
} from '../helpers/terra-fixtures.ts';

const META: DeliveryMeta = { event_id: 'trace-7f3c9a', at: 1_751_360_553_891 };

/** The events a payload yields; fails the test if it was ignored or an event lost the delivery meta. */
function eventsOf(payload: unknown, meta: DeliveryMeta = META): ConnectionEvent[] {
  const result = parseWebhook(payload, meta);
  const events = result.kind === 'connection' ? result.events : result.kind === 'data' ? [result.event] : [];
  if (events.length === 0) throw new Error(`expected events, but it was parsed as ${JSON.stringify(result)}`);
  for (const event of events) {
    expect(event.event_id).toBe(meta.event_id);
    expect(event.at).toBe(meta.at);
  }
  return events;
}

function onlyEvent(payload: unknown): ConnectionEvent {
  const events = eventsOf(payload);
  expect(events).toHaveLength(1);
  return events[0]!;
}

/** The reason a payload was ignored; fails the test if it yielded events. */
function ignoredAs(payload: unknown): IgnoredReason {
  const result = parseWebhook(payload, META);
  if (result.kind !== 'ignored')
    throw new Error(`expected it to be ignored, but it yielded ${result.type} events`);
  return result.reason;
}

/** What every event for the example user looks like, apart from the change. */
const exampleUser = {
  user_id: TERRA_USER_ID,
  reference_id: REFERENCE_ID,
  provider: PROVIDER,
  event_id: META.event_id,
  at: META.at,
};

describe('auth (success)', () => {
  it('authenticates the user with its provider, reference_id and scopes', () => {
    expect(parseWebhook(authSuccess(), META)).toStrictEqual({
      kind: 'connection',
      type: 'auth',
      events: [
        { ...exampleUser, change: { kind: 'authenticated', scopes: ['ACTIVITY_EXPORT', 'HEALTH_EXPORT'] } },
      ],
    });
  });

  describe('scopes', () => {
    it.each([
      ['sorts them', 'HEALTH_EXPORT,ACTIVITY_EXPORT', ['ACTIVITY_EXPORT', 'HEALTH_EXPORT']],
      [
        'trims padding and drops blanks',
        ' HEALTH_EXPORT , ACTIVITY_EXPORT,, ',
        ['ACTIVITY_EXPORT', 'HEALTH_EXPORT'],
      ],
      ['drops duplicates', 'SLEEP_EXPORT,ACTIVITY_EXPORT,SLEEP_EXPORT', ['ACTIVITY_EXPORT', 'SLEEP_EXPORT']],
      ['reads one scope', 'fitness.activity.read', ['fitness.activity.read']],
      ['reads an empty string as no scopes', '', []],
      ['reads whitespace as no scopes', '  ,  ', []],
    ])('%s', (_, scopes, expected) => {
      expect(onlyEvent(authSuccess({ user: terraUser({ scopes }) })).change).toStrictEqual({
        kind: 'authenticated',
        scopes: expected,
      });
    });

    it('leaves the scopes out when Terra sends null, rather than claiming there are none', () => {
      expect(onlyEvent(authSuccess({ user: terraUser({ scopes: null }) })).change).toStrictEqual({
        kind: 'authenticated',
      });
    });

    it('leaves the scopes out when the user has no scopes field', () => {
      expect(onlyEvent({ ...authSuccess(), user: without(terraUser(), 'scopes') }).change).toStrictEqual({
        kind: 'authenticated',
      });
    });
  });

  describe('reference_id', () => {
    it('prefers the top-level reference_id when present', () => {
      const event = onlyEvent(
        authSuccess({ reference_id: 'top-level-ref', user: terraUser({ reference_id: 'inner' }) }),
      );
      expect(event.reference_id).toBe('top-level-ref');
    });

    it('falls back to user.reference_id when there is none at the top level', () => {
      expect(onlyEvent(without(authSuccess(), 'reference_id')).reference_id).toBe(REFERENCE_ID);
    });

    it.each([null, '', '   '])('falls back to user.reference_id when the top level is %j', (reference_id) => {
      expect(onlyEvent(authSuccess({ reference_id })).reference_id).toBe(REFERENCE_ID);
    });

    it('is null when neither carries one', () => {
      expect(onlyEvent(authSuccess({ user: terraUser({ reference_id: null }) })).reference_id).toBeNull();
    });
  });

  it('leaves the provider out when the user has none', () => {
    expect(onlyEvent({ ...authSuccess(), user: without(terraUser(), 'provider') })).not.toHaveProperty(
      'provider',
    );
  });

  it('ignores an auth with a status it does not know as unexpected_shape', () => {
    expect(ignoredAs({ ...authSuccess(), status: 'pending' })).toBe('unexpected_shape');
  });
});

describe('auth (legacy error)', () => {
  it('fails the attached user with the reason Terra gives', () => {
    expect(parseWebhook(legacyAuthError(), META)).toStrictEqual({
      kind: 'connection',
      type: 'auth',
      events: [{ ...exampleUser, change: { kind: 'auth_failed', reason: 'session_expired' } }],
    });
  });

  it('falls back to the message when there is no reason', () => {
    expect(onlyEvent(legacyAuthError({ reason: null })).change).toStrictEqual({
      kind: 'auth_failed',
      reason: 'User failed to authenticate and has been deleted',
    });
  });

  it("falls back to 'auth_failed' when there is neither reason nor message", () => {
    expect(onlyEvent(without(legacyAuthError(), 'reason', 'message')).change).toStrictEqual({
      kind: 'auth_failed',
      reason: 'auth_failed',
    });
  });

  it('ignores a failure with no user as auth_failed_without_user, keeping its reference_id', () => {
    expect(parseWebhook(without(legacyAuthError(), 'user'), META)).toStrictEqual({
      kind: 'ignored',
      type: 'auth',
      reason: 'auth_failed_without_user',
      reference_id: REFERENCE_ID,
    });
  });
});

describe('auth_cancelled', () => {
  it('is ignored as auth_cancelled, keeping its reference_id', () => {
    expect(parseWebhook(authCancelled(), META)).toStrictEqual({
      kind: 'ignored',
      type: 'auth_cancelled',
      reason: 'auth_cancelled',
      reference_id: REFERENCE_ID,
    });
  });

  it('carries no reference_id when Terra sent none', () => {
    expect(parseWebhook(authCancelled({ reference_id: null }), META)).not.toHaveProperty('reference_id');
  });
});

describe('user_reauth', () => {
  it('replaces the old connection with the new one, each pointing at the other', () => {
    expect(parseWebhook(userReauth(), META)).toStrictEqual({
      kind: 'connection',
      type: 'user_reauth',
      events: [
        {
          ...exampleUser,
          user_id: TERRA_NEW_USER_ID,
          change: {
            kind: 'authenticated',
            scopes: ['ACTIVITY_EXPORT', 'HEALTH_EXPORT'],
            replaces: TERRA_USER_ID,
          },
        },
        { ...exampleUser, change: { kind: 'replaced', replaced_by: TERRA_NEW_USER_ID } },
      ],
    });
  });

  it.each([
    ['null', userReauth({ old_user: null })],
    ['absent', without(userReauth(), 'old_user')],
  ])('only authenticates the new user when old_user is %s', (_, payload) => {
    const event = onlyEvent(payload);
    expect(event.user_id).toBe(TERRA_NEW_USER_ID);
    expect(event.change).toStrictEqual({
      kind: 'authenticated',
      scopes: ['ACTIVITY_EXPORT', 'HEALTH_EXPORT'],
    });
    expect(event.change).not.toHaveProperty('replaces');
  });

  it('does not replace a user with itself when old and new carry the same user_id', () => {
    const same = terraUser({ user_id: TERRA_NEW_USER_ID });
    const event = onlyEvent(userReauth({ old_user: same, new_user: same }));
    expect(event.change).not.toHaveProperty('replaces');
  });

  it('ignores a reauth without a new_user as unexpected_shape', () => {
    expect(ignoredAs(without(userReauth(), 'new_user'))).toBe('unexpected_shape');
  });
});

describe('deauth', () => {
  it('disconnects the user', () => {
    expect(parseWebhook(deauth(), META)).toStrictEqual({
      kind: 'connection',
      type: 'deauth',
      events: [{ ...exampleUser, change: { kind: 'disconnected' } }],
    });
  });

  it('ignores a deauth without a user as unexpected_shape', () => {
    expect(ignoredAs(without(deauth(), 'user'))).toBe('unexpected_shape');
  });
});

describe('access_revoked', () => {
  it('revokes the user', () => {
    expect(parseWebhook(accessRevoked(), META)).toStrictEqual({
      kind: 'connection',
      type: 'access_revoked',
      events: [{ ...exampleUser, change: { kind: 'revoked' } }],
    });
  });
});

describe('connection_error', () => {
  it("puts the user in error, with Terra's message as the reason", () => {
    expect(parseWebhook(connectionError(), META)).toStrictEqual({
      kind: 'connection',
      type: 'connection_error',
      events: [
        {
          ...exampleUser,
          change: {
            kind: 'connection_error',
            reason:
              "Connection degraded: the provider rejected Terra's access token; the user may need to reauthenticate",
          },
        },
      ],
    });
  });

  it('leaves the reason out when there is no message', () => {
    expect(onlyEvent(connectionError({ message: '' })).change).toStrictEqual({ kind: 'connection_error' });
  });
});

describe('permission_change', () => {
  it('takes the full scope set from user.scopes along with the deltas', () => {
    expect(parseWebhook(permissionChange(), META)).toStrictEqual({
      kind: 'connection',
      type: 'permission_change',
      events: [
        {
          ...exampleUser,
          change: {
            kind: 'scopes_changed',
            scopes: ['ACTIVITY_EXPORT', 'BODY_EXPORT', 'HEALTH_EXPORT'],
            added: ['BODY_EXPORT'],
            removed: [],
          },
        },
      ],
    });
  });

  it.each([
    [
      'null',
      permissionChange({ user: terraUser({ scopes: null }), scopes_removed: 'SLEEP_EXPORT, HEALTH_EXPORT' }),
    ],
    [
      'absent',
      {
        ...permissionChange({ scopes_removed: 'SLEEP_EXPORT, HEALTH_EXPORT' }),
        user: without(terraUser(), 'scopes'),
      },
    ],
  ])('carries only the deltas when user.scopes is %s', (_, payload) => {
    expect(onlyEvent(payload).change).toStrictEqual({
      kind: 'scopes_changed',
      added: ['BODY_EXPORT'],
      removed: ['HEALTH_EXPORT', 'SLEEP_EXPORT'],
    });
  });
});

describe('data events', () => {
  it("knows every user-scoped data event of Terra's WebhookEventType union", () => {
    // Pinned here, so a type dropped from the domain's list fails this and not only the cases below.
    expect([...USER_DATA_EVENT_TYPES].sort()).toEqual([
      'activity',
      'athlete',
      'body',
      'daily',
      'health_observation',
      'hormone',
      'menstruation',
      'nutrition',
      'planned_workout',
      'sleep',
    ]);
  });

  it.each(USER_DATA_EVENT_TYPES)('%s is a data payload for its user', (type) => {
    expect(parseWebhook(dataEvent(type), META)).toStrictEqual({
      kind: 'data',
      type,
      subject: { user_id: TERRA_USER_ID, reference_id: REFERENCE_ID, provider: PROVIDER },
      event: { ...exampleUser, change: { kind: 'data' } },
    });
  });

  it('names no app user when the payload carries no reference_id', () => {
    const parsed = parseWebhook(dataEvent('sleep', { user: terraUser({ reference_id: null }) }), META);
    expect(parsed).toMatchObject({
      kind: 'data',
      subject: { reference_id: null },
      event: { reference_id: null },
    });
  });

  // Terra's bundle defines these as user-scoped data events too (HormoneEvent, HealthObservationEvent).
  it.each<UserDataEventType>(['hormone', 'health_observation'])(
    '%s touches the connection as data',
    (type) => {
      expect(onlyEvent(dataEvent(type)).change).toStrictEqual({ kind: 'data' });
    },
  );

  it('reads an s3_payload as the URL of the payload it stands for', () => {
    const notification = s3Payload();
    expect(parseWebhook(notification, META)).toStrictEqual({
      kind: 's3_payload',
      type: 's3_payload',
      url: notification.url,
    });
  });

  it('ignores an s3_payload without a url as unexpected_shape', () => {
    expect(ignoredAs(without(s3Payload(), 'url'))).toBe('unexpected_shape');
  });

  it.each(['completed', 'failed'] as const)(
    'ignores a lab_report.%s, which is report-scoped and has no user',
    (outcome) => {
      expect(ignoredAs(labReport(outcome))).toBe('data_without_user');
    },
  );
});

describe('large requests', () => {
  it('reads large_request_processing as progress of the request its reference names', () => {
    const payload = largeRequestProcessing();
    expect(parseWebhook(payload, META)).toStrictEqual({
      kind: 'tracking',
      type: 'large_request_processing',
      subject: { user_id: TERRA_USER_ID, reference_id: REFERENCE_ID, provider: PROVIDER },
      reference: payload.reference,
    });
  });

  it('reads large_request_sending with the number of payloads to expect', () => {
    const payload = largeRequestSending();
    expect(parseWebhook(payload, META)).toMatchObject({
      kind: 'tracking',
      type: 'large_request_sending',
      reference: payload.reference,
      expected_payloads: payload.expected_payloads,
    });
  });
});

describe('informational events', () => {
  it('ignores a healthcheck as informational, about nobody', () => {
    expect(parseWebhook(healthcheck(), META)).toStrictEqual({
      kind: 'ignored',
      type: 'healthcheck',
      reason: 'informational',
    });
  });

  it.each([
    ['rate_limit_hit', informational('rate_limit_hit')],
    ['google_no_datasource', informational('google_no_datasource')],
    ['processing', informational('processing')],
  ])('ignores %s as informational, kept under the Terra user it carries', (type, payload) => {
    expect(parseWebhook(payload, META)).toStrictEqual({
      kind: 'ignored',
      type,
      reason: 'informational',
      subject: { user_id: TERRA_USER_ID, reference_id: REFERENCE_ID, provider: PROVIDER },
    });
  });
});

describe('unknown types', () => {
  it('ignores a type it does not know as unknown_type, keeping the type and the user it carries', () => {
    expect(parseWebhook({ ...deauth(), type: 'user_merged' }, META)).toStrictEqual({
      kind: 'ignored',
      type: 'user_merged',
      reason: 'unknown_type',
      subject: { user_id: TERRA_USER_ID, reference_id: REFERENCE_ID, provider: PROVIDER },
    });
  });

  it('ignores an unknown type without a user as about nobody but the app user it names', () => {
    expect(parseWebhook({ type: 'report_ready', reference_id: 'app-7' }, META)).toStrictEqual({
      kind: 'ignored',
      type: 'report_ready',
      reason: 'unknown_type',
      reference_id: 'app-7',
    });
  });
});

describe('odd but valid JSON', () => {
  it.each<[string, unknown]>([
    ['an array', [authSuccess()]],
    ['a number', 42],
    ['a string', 'auth'],
    ['null', null],
    ['true', true],
    ['an object without type', without(authSuccess(), 'type')],
    ['an empty type', { ...authSuccess(), type: '' }],
    ['a numeric type', { ...authSuccess(), type: 1 }],
    ['a status that is not a string', { ...authSuccess(), status: { ok: true } }],
  ])('ignores %s as unexpected_shape without throwing', (_, payload) => {
    expect(parseWebhook(payload, META)).toStrictEqual({
      kind: 'ignored',
      type: 'unknown',
      reason: 'unexpected_shape',
    });
  });

  const malformedUsers: [string, Record<string, unknown>][] = [
    ['a user without user_id', { ...authSuccess(), user: without(terraUser(), 'user_id') }],
    ['a blank user_id', authSuccess({ user: terraUser({ user_id: '   ' }) })],
    ['a user_id of 10,000 characters', authSuccess({ user: terraUser({ user_id: 'u'.repeat(10_000) }) })],
    ['a numeric user_id', { ...authSuccess(), user: { ...terraUser(), user_id: 12345 } }],
    ['a user that is a string', { ...authSuccess(), user: TERRA_USER_ID }],
  ];

  it.each(malformedUsers)('ignores an auth success with %s as unexpected_shape', (_, payload) => {
    expect(parseWebhook(without(payload, 'reference_id'), META)).toStrictEqual({
      kind: 'ignored',
      type: 'auth',
      reason: 'unexpected_shape',
    });
  });

  it.each(malformedUsers)(
    'ignores an auth success with %s as unexpected_shape, under the app user it names',
    (_, payload) => {
      expect(parseWebhook(payload, META)).toStrictEqual({
        kind: 'ignored',
        type: 'auth',
        reason: 'unexpected_shape',
        reference_id: REFERENCE_ID,
      });
    },
  );
});

describe('delivery meta', () => {
  it('stamps every event of a delivery with the given event_id and at', () => {
    const meta: DeliveryMeta = { event_id: 'sha256:9f86d081884c7d65', at: 1_751_443_391_204 };
    const events = eventsOf(userReauth(), meta);
    expect(events).toHaveLength(2);
    expect(events.map(({ event_id, at }) => ({ event_id, at }))).toStrictEqual([
      { event_id: meta.event_id, at: meta.at },
      { event_id: meta.event_id, at: meta.at },
    ]);
  });
});

describe('fields that must have their shape', () => {
  it.each<[string, unknown]>([
    ['scopes_added that is not a string', { ...permissionChange(), scopes_added: 42 }],
    ['scopes_removed longer than 4096 characters', permissionChange({ scopes_removed: 'A,'.repeat(2049) })],
    ['no user', without(permissionChange(), 'user')],
  ])('ignores a permission_change with %s as unexpected_shape', (_, payload) => {
    expect(ignoredAs(payload)).toBe('unexpected_shape');
  });

  it.each<[string, unknown]>([
    ['no user', without(largeRequestSending(), 'user')],
    ['a negative expected_payloads', largeRequestSending({ expected_payloads: -1 })],
    ['a fractional expected_payloads', largeRequestSending({ expected_payloads: 1.5 })],
    ['an empty reference', largeRequestSending({ reference: '' })],
  ])('ignores a large request with %s as unexpected_shape', (_, payload) => {
    expect(ignoredAs(payload)).toBe('unexpected_shape');
  });

  it('reads a large request without a reference as progress of no request in particular', () => {
    expect(parseWebhook(without(largeRequestProcessing(), 'reference'), META)).toStrictEqual({
      kind: 'tracking',
      type: 'large_request_processing',
      subject: { user_id: TERRA_USER_ID, reference_id: REFERENCE_ID, provider: PROVIDER },
    });
  });

  it('leaves the scopes out of a reauth whose new user carries none', () => {
    const [added] = eventsOf(
      userReauth({ new_user: terraUser({ user_id: TERRA_NEW_USER_ID, scopes: null }) }),
    );
    expect(added?.change).toStrictEqual({ kind: 'authenticated', replaces: TERRA_USER_ID });
  });
});
