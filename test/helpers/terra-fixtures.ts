import * as terra from '#sandbox/payloads';
import type { UserDataEventType } from '#shared/terra/data-types';

/**
 * Terra webhook payloads for tests: the sandbox's builders (sandbox/payloads.ts, the one library of
 * Terra payloads) with the values of Terra's published examples filled in. Pass overrides for what a test
 * is about (a `user` override is the user the payload is built for), and `without()` to drop a field
 * entirely (as Terra does, rather than sending it as null).
 */
/** IDs and values from Terra's published examples, so a failure reads like the docs. */
export const TERRA_USER_ID = '40f7b0e1-89e2-43ac-a5b8-1e29c8d47cad';
export const TERRA_NEW_USER_ID = '9c8b7a65-4321-4fed-a0b9-87c6d5e4f321';
export const REFERENCE_ID = 'your-user-123';
export const PROVIDER = 'GARMIN';
export const SCOPES = 'ACTIVITY_EXPORT,HEALTH_EXPORT';
const WIDGET_SESSION_ID = '3e982b74-1a94-4d9a-b6a3-f92c6e4d21b5';
const FLOW_ID = 'b2f9c611-52c8-4a63-9082-7e50e2f5a1cd';
const LARGE_REQUEST_REFERENCE = 'd3f1a9c2-6b1e-4f0a-8f21-9e5b2c7a4d10';
/** The day the examples' records are for; a data event's records are the same every time. */
const EXAMPLE_DAY = new Date('2026-07-01T00:00:00Z');

/** A copy of `value` without `keys`: for payloads where Terra leaves a field out altogether. */
export function without<T extends object, K extends keyof T>(value: T, ...keys: K[]): Omit<T, K> {
  const copy: Partial<T> = { ...value };
  for (const key of keys) delete copy[key];
  return copy as Omit<T, K>;
}

/** `TerraUser` as it appears inside every user-scoped webhook, as in Terra's example. */
export function terraUser(overrides: Partial<terra.WebhookUser> = {}): terra.WebhookUser {
  return {
    user_id: TERRA_USER_ID,
    provider: PROVIDER,
    last_webhook_update: '2026-07-01T09:12:33.891000+00:00',
    scopes: SCOPES,
    reference_id: REFERENCE_ID,
    active: true,
    ...overrides,
  };
}

/** With the top-level `reference_id` of the user it is built for (drop it with `without()`). */
export function authSuccess(overrides: Partial<terra.AuthSuccessPayload> = {}): terra.AuthSuccessPayload {
  const { user = terraUser({ last_webhook_update: null }), ...rest } = overrides;
  return { ...terra.authSuccess(user, { widget_session_id: WIDGET_SESSION_ID }), ...rest };
}

export function authCancelled(
  overrides: Partial<terra.AuthCancelledPayload> = {},
): terra.AuthCancelledPayload {
  return { ...terra.authCancelled({ flow_id: FLOW_ID, reference_id: REFERENCE_ID }), ...overrides };
}

/** Pre-2026 failure: Terra deleted the half-made user and said why. Drop `user` with `without()`. */
export function legacyAuthError(
  overrides: Partial<terra.LegacyAuthFailurePayload> = {},
): terra.LegacyAuthFailurePayload {
  const flow = {
    user_id: TERRA_USER_ID,
    provider: PROVIDER,
    reference_id: REFERENCE_ID,
    widget_session_id: WIDGET_SESSION_ID,
  };
  return { ...terra.legacyAuthFailure(flow, 'session_expired'), ...overrides };
}

/** The example swaps the old user for a new one; pass `old_user: null` for Terra's "when available" case. */
export function userReauth(overrides: Partial<terra.UserReauthPayload> = {}): terra.UserReauthPayload {
  const oldUser = terraUser({ active: false, last_webhook_update: '2026-06-28T17:40:52.118000+00:00' });
  const newUser = terraUser({
    user_id: TERRA_NEW_USER_ID,
    last_webhook_update: '2026-07-02T08:03:11.204000+00:00',
  });
  return { ...terra.userReauth(oldUser, newUser), ...overrides };
}

export function deauth(overrides: Partial<terra.UserScopedPayload> = {}): terra.UserScopedPayload {
  const { user = terraUser({ active: false }), ...rest } = overrides;
  return { ...terra.deauth(user), ...rest };
}

export function accessRevoked(overrides: Partial<terra.UserScopedPayload> = {}): terra.UserScopedPayload {
  const { user = terraUser({ active: false }), ...rest } = overrides;
  return { ...terra.accessRevoked(user), ...rest };
}

export function connectionError(overrides: Partial<terra.UserScopedPayload> = {}): terra.UserScopedPayload {
  const { user = terraUser(), ...rest } = overrides;
  return { ...terra.connectionError(user), ...rest };
}

/** The example grants BODY_EXPORT and removes nothing; `user.scopes` is the set after the change. */
export function permissionChange(
  overrides: Partial<terra.PermissionChangePayload> = {},
): terra.PermissionChangePayload {
  const { user = terraUser({ scopes: `${SCOPES},BODY_EXPORT` }), ...rest } = overrides;
  return { ...terra.permissionChange(user, 'BODY_EXPORT', ''), ...rest };
}

/** A data event of `type` for the example day: the same body every time, so its hash is too. */
export function dataEvent(
  type: UserDataEventType,
  overrides: Partial<terra.DataEventPayload> = {},
): terra.DataEventPayload {
  const { user = terraUser(), ...rest } = overrides;
  const event =
    type === 'athlete'
      ? terra.athleteEvent(user)
      : terra.dataEventWith(type, user, [terra.recordFor(type, EXAMPLE_DAY, 'example')]);
  return { ...event, ...rest };
}

/** Ping-mode wrapper for a payload too large to send inline: a URL, no user. */
export function s3Payload(overrides: Partial<terra.S3PayloadEvent> = {}): terra.S3PayloadEvent {
  const url = `https://terra-payload-bucket.s3.eu-west-2.amazonaws.com/payloads/${TERRA_USER_ID}/activity.json`;
  return { ...terra.s3Payload(url, 300), ...overrides };
}

export function largeRequestSending(
  overrides: Partial<terra.LargeRequestSendingPayload> = {},
): terra.LargeRequestSendingPayload {
  const { user = terraUser(), ...rest } = overrides;
  return { ...terra.largeRequestSending(user, LARGE_REQUEST_REFERENCE, 43), ...rest };
}

export function largeRequestProcessing(
  overrides: Partial<terra.LargeRequestProcessingPayload> = {},
): terra.LargeRequestProcessingPayload {
  const { user = terraUser(), ...rest } = overrides;
  return { ...terra.largeRequestProcessing(user, LARGE_REQUEST_REFERENCE), ...rest };
}

export function healthcheck(overrides: Partial<terra.HealthcheckPayload> = {}): terra.HealthcheckPayload {
  return { ...terra.healthcheck(new Date('2026-07-01T09:00:00Z'), 120), ...overrides };
}

/** `rate_limit_hit`, `google_no_datasource` and `processing`: a user and a message, nothing more. */
export function informational(
  type: terra.InformationalType,
  overrides: Partial<terra.InformationalPayload> = {},
): terra.InformationalPayload {
  const { user = terraUser(), ...rest } = overrides;
  return { ...terra.informational(type, user), ...rest };
}

export function labReport(outcome: 'completed' | 'failed'): terra.LabReportPayload {
  return terra.labReport(
    outcome,
    { session_id: '297405620317847552', reference_id: 'your-patient-123' },
    'evt_4a2b8c1d-3f9e-4c0a-8b21-9d6e5f2a1c7b',
    new Date('2026-07-01T09:12:33Z'),
  );
}
