/**
 * Terra webhook payloads, built from the examples in Terra's OpenAPI bundle (`webhooks:` and
 * `components/schemas`, v2-bundled.yaml). Each builder returns the published example's shape with the
 * example's values; pass overrides for what a test is about, and `without()` to drop a field entirely
 * (as Terra does, rather than sending it as null).
 */

/** IDs and values from Terra's published examples, so a failure reads like the docs. */
export const TERRA_USER_ID = '40f7b0e1-89e2-43ac-a5b8-1e29c8d47cad';
export const TERRA_NEW_USER_ID = '9c8b7a65-4321-4fed-a0b9-87c6d5e4f321';
export const REFERENCE_ID = 'your-user-123';
export const PROVIDER = 'GARMIN';
export const SCOPES = 'ACTIVITY_EXPORT,HEALTH_EXPORT';

/** `TerraUser` as it appears inside every user-scoped webhook. */
export interface TerraUserPayload {
  user_id: string;
  provider: string;
  last_webhook_update: string | null;
  scopes: string | null;
  reference_id: string | null;
  active: boolean;
}

/** Fields every webhook may carry (`WebhookEvent`), plus the top-level `reference_id` some send. */
export interface WebhookEnvelope {
  type: string;
  status?: string | null;
  message?: string | null;
  reference_id?: string | null;
}

export interface UserScopedPayload extends WebhookEnvelope {
  user: TerraUserPayload;
}

export interface AuthSuccessPayload extends UserScopedPayload {
  type: 'auth';
  status: 'success';
  widget_session_id?: string | null;
}

/** The 2026 failure arm: no user, only `reason` and `reference_id`. */
export interface AuthCancelledPayload extends WebhookEnvelope {
  type: 'auth_cancelled';
  status: 'error';
  flow_id: string | null;
  reason: string | null;
}

/** The legacy failure arm: `type: auth`, `status: error`, with the deleted user when Terra had one. */
export interface LegacyAuthErrorPayload extends UserScopedPayload {
  type: 'auth';
  status: 'error';
  reason?: string | null;
  widget_session_id?: string | null;
}

export interface UserReauthPayload extends WebhookEnvelope {
  type: 'user_reauth';
  version: string;
  new_user: TerraUserPayload;
  old_user?: TerraUserPayload | null;
}

export interface PermissionChangePayload extends UserScopedPayload {
  type: 'permission_change';
  version: string;
  scopes_added: string;
  scopes_removed: string;
}

export interface S3PayloadEvent extends WebhookEnvelope {
  type: 's3_payload';
  url: string;
  expires_in: number;
}

export interface LargeRequestSendingPayload extends UserScopedPayload {
  type: 'large_request_sending';
  reference: string;
  expected_payloads: number;
}

export interface LargeRequestProcessingPayload extends UserScopedPayload {
  type: 'large_request_processing';
  reference: string;
}

export interface HealthcheckPayload extends WebhookEnvelope {
  type: 'healthcheck';
  creation_timestamp: string;
  trend_percentage: number;
  sent_webhooks_last_hour: number;
}

/** Data event types the OpenAPI bundle defines a `*Event` schema for, each carrying a `user`. */
export const TERRA_DATA_EVENT_TYPES = [
  'activity',
  'athlete',
  'body',
  'daily',
  'menstruation',
  'nutrition',
  'planned_workout',
  'sleep',
  'hormone',
  'health_observation',
] as const;
export type DataEventType = (typeof TERRA_DATA_EVENT_TYPES)[number];

export interface DataEventPayload extends UserScopedPayload {
  type: DataEventType;
  version: string;
  /** Every data event but `athlete` carries a `data` array; `athlete` carries one `athlete` object. */
  data?: Record<string, unknown>[];
  athlete?: Record<string, unknown>;
}

/** Operational events that carry a user but say nothing about the connection itself. */
export type UserScopedInformationalType = 'rate_limit_hit' | 'google_no_datasource' | 'processing';

export interface InformationalPayload extends UserScopedPayload {
  type: UserScopedInformationalType;
}

export interface LabReportPayload {
  type: 'lab_report.completed' | 'lab_report.failed';
  event_id: string;
  occurred_at: string;
  data: { session_id: string; reference_id: string; [key: string]: unknown };
}

/** A copy of `value` without `keys`: for payloads where Terra leaves a field out altogether. */
export function without<T extends object, K extends keyof T>(value: T, ...keys: K[]): Omit<T, K> {
  const copy: Partial<T> = { ...value };
  for (const key of keys) delete copy[key];
  return copy as Omit<T, K>;
}

export function terraUser(overrides: Partial<TerraUserPayload> = {}): TerraUserPayload {
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

export function authSuccess(overrides: Partial<AuthSuccessPayload> = {}): AuthSuccessPayload {
  return {
    type: 'auth',
    status: 'success',
    message: 'User has successfully authenticated',
    widget_session_id: '3e982b74-1a94-4d9a-b6a3-f92c6e4d21b5',
    user: terraUser({ last_webhook_update: null }),
    ...overrides,
  };
}

export function authCancelled(overrides: Partial<AuthCancelledPayload> = {}): AuthCancelledPayload {
  return {
    type: 'auth_cancelled',
    status: 'error',
    flow_id: 'b2f9c611-52c8-4a63-9082-7e50e2f5a1cd',
    reason: 'access_denied',
    reference_id: REFERENCE_ID,
    ...overrides,
  };
}

/** Pre-2026 failure: Terra deleted the half-made user and said why. Drop `user` with `without()`. */
export function legacyAuthError(overrides: Partial<LegacyAuthErrorPayload> = {}): LegacyAuthErrorPayload {
  return {
    type: 'auth',
    status: 'error',
    message: 'User failed to authenticate and has been deleted',
    reason: 'session_expired',
    reference_id: REFERENCE_ID,
    widget_session_id: '3e982b74-1a94-4d9a-b6a3-f92c6e4d21b5',
    user: terraUser({ active: false, last_webhook_update: null }),
    ...overrides,
  };
}

/** The example swaps the old user for a new one; pass `old_user: null` for Terra's "when available" case. */
export function userReauth(overrides: Partial<UserReauthPayload> = {}): UserReauthPayload {
  return {
    type: 'user_reauth',
    status: 'warning',
    message: 'User has reauthenticated and old ID has been deleted',
    version: '2022-03-16',
    new_user: terraUser({
      user_id: TERRA_NEW_USER_ID,
      last_webhook_update: '2026-07-02T08:03:11.204000+00:00',
    }),
    old_user: terraUser({ active: false, last_webhook_update: '2026-06-28T17:40:52.118000+00:00' }),
    ...overrides,
  };
}

export function deauth(overrides: Partial<UserScopedPayload> = {}): UserScopedPayload {
  return {
    type: 'deauth',
    status: 'success',
    message: 'User has deauthenticated',
    user: terraUser({ active: false }),
    ...overrides,
  };
}

export function accessRevoked(overrides: Partial<UserScopedPayload> = {}): UserScopedPayload {
  return {
    type: 'access_revoked',
    status: 'warning',
    message: 'User revoked access',
    user: terraUser({ active: false }),
    ...overrides,
  };
}

export function connectionError(overrides: Partial<UserScopedPayload> = {}): UserScopedPayload {
  return {
    type: 'connection_error',
    status: 'warning',
    message: "Connection degraded: the provider rejected Terra's access token",
    user: terraUser(),
    ...overrides,
  };
}

/** The example grants BODY_EXPORT and removes nothing; `user.scopes` is the set after the change. */
export function permissionChange(overrides: Partial<PermissionChangePayload> = {}): PermissionChangePayload {
  return {
    type: 'permission_change',
    status: 'warning',
    message: 'User permissions have been modified',
    version: '2022-03-16',
    scopes_added: 'BODY_EXPORT',
    scopes_removed: '',
    user: terraUser({ scopes: 'ACTIVITY_EXPORT,HEALTH_EXPORT,BODY_EXPORT' }),
    ...overrides,
  };
}

// One small record per type, trimmed from the OpenAPI examples; the parser never reads them.
const SAMPLE_DATA: Record<Exclude<DataEventType, 'athlete'>, Record<string, unknown>> = {
  activity: {
    metadata: {
      name: 'Morning Run',
      summary_id: '123e4567-e89b-12d3-a456-426614174000',
      start_time: '2026-07-01T07:04:11.000000+01:00',
      end_time: '2026-07-01T07:52:48.000000+01:00',
      type: 8,
      upload_type: 1,
    },
    distance_data: { summary: { distance_meters: 8250.4, steps: 7902 } },
  },
  body: {
    metadata: {
      start_time: '2026-07-01T00:00:00.000000+01:00',
      end_time: '2026-07-02T00:00:00.000000+01:00',
    },
    measurements_data: {
      measurements: [{ measurement_time: '2026-07-01T07:55:02.000000+01:00', weight_kg: 72.4 }],
    },
  },
  daily: {
    metadata: {
      start_time: '2026-07-01T00:00:00.000000+01:00',
      end_time: '2026-07-02T00:00:00.000000+01:00',
      upload_type: 0,
    },
    distance_data: { steps: 11894, distance_meters: 9412.7 },
  },
  menstruation: {
    metadata: {
      start_time: '2026-07-01T00:00:00.000000+01:00',
      end_time: '2026-07-02T00:00:00.000000+01:00',
    },
    menstruation_data: { period_start_date: '2026-06-28', day_in_cycle: 4 },
  },
  nutrition: {
    metadata: {
      start_time: '2026-07-01T00:00:00.000000+01:00',
      end_time: '2026-07-02T00:00:00.000000+01:00',
    },
    summary: { macros: { calories: 2105, protein_g: 128.4 }, water_ml: 2300 },
  },
  planned_workout: {
    metadata: { id: 'b7d3c5e2-0f4a-4c61-9e8d-2a1b3c4d5e6f', name: 'Tempo run', type: 8 },
    steps: [],
  },
  sleep: {
    metadata: {
      start_time: '2026-06-30T23:12:00.000000+01:00',
      end_time: '2026-07-01T07:02:00.000000+01:00',
      is_nap: false,
      upload_type: 1,
    },
    sleep_durations_data: { asleep: { duration_asleep_state_seconds: 25200 } },
  },
  hormone: { metadata: { start_time: '2026-07-01T00:00:00.000000+01:00' }, samples: [] },
  health_observation: { metadata: { start_time: '2026-07-01T00:00:00.000000+01:00' }, observations: [] },
};

export function dataEvent(type: DataEventType, overrides: Partial<DataEventPayload> = {}): DataEventPayload {
  const body =
    type === 'athlete'
      ? { athlete: { first_name: 'John', last_name: 'Smith', sex: 'male', date_of_birth: '1991-04-12' } }
      : { data: [SAMPLE_DATA[type]] };
  return { type, version: '2022-03-16', user: terraUser(), ...body, ...overrides };
}

/** Ping-mode wrapper for a payload too large to send inline: a URL, no user. */
export function s3Payload(overrides: Partial<S3PayloadEvent> = {}): S3PayloadEvent {
  return {
    type: 's3_payload',
    status: 'success',
    url: `https://terra-payload-bucket.s3.eu-west-2.amazonaws.com/payloads/${TERRA_USER_ID}/activity.json`,
    expires_in: 300,
    ...overrides,
  };
}

export function largeRequestSending(
  overrides: Partial<LargeRequestSendingPayload> = {},
): LargeRequestSendingPayload {
  return {
    type: 'large_request_sending',
    reference: 'd3f1a9c2-6b1e-4f0a-8f21-9e5b2c7a4d10',
    message: 'Large request payloads are being sent',
    expected_payloads: 43,
    user: terraUser(),
    ...overrides,
  };
}

export function largeRequestProcessing(
  overrides: Partial<LargeRequestProcessingPayload> = {},
): LargeRequestProcessingPayload {
  return {
    type: 'large_request_processing',
    status: 'processing',
    reference: 'd3f1a9c2-6b1e-4f0a-8f21-9e5b2c7a4d10',
    message: 'Large request is being processed; payloads will be delivered when ready',
    user: terraUser(),
    ...overrides,
  };
}

/** Terra's periodic liveness ping: no user, delivery statistics only. */
export function healthcheck(overrides: Partial<HealthcheckPayload> = {}): HealthcheckPayload {
  return {
    type: 'healthcheck',
    status: 'success',
    creation_timestamp: '2026-07-01T09:00:00.000000+00:00',
    trend_percentage: 0,
    sent_webhooks_last_hour: 120,
    ...overrides,
  };
}

const INFORMATIONAL_MESSAGES: Record<UserScopedInformationalType, string> = {
  rate_limit_hit: 'Provider rate limit hit; the request will be retried',
  google_no_datasource: 'No data source found for the requested data type',
  processing: 'Request is being processed; data will be sent when ready',
};

/** `rate_limit_hit`, `google_no_datasource` and `processing`: a user and a message, nothing more. */
export function informational(
  type: UserScopedInformationalType,
  overrides: Partial<InformationalPayload> = {},
): InformationalPayload {
  return { type, status: 'warning', message: INFORMATIONAL_MESSAGES[type], user: terraUser(), ...overrides };
}

/** Report-scoped lab events: the envelope type is `lab_report.<outcome>`, and there is no user. */
export function labReport(outcome: 'completed' | 'failed'): LabReportPayload {
  return {
    type: `lab_report.${outcome}`,
    event_id: 'evt_4a2b8c1d-3f9e-4c0a-8b21-9d6e5f2a1c7b',
    occurred_at: '2026-07-01T09:12:33Z',
    data: { session_id: '297405620317847552', reference_id: 'your-patient-123' },
  };
}
