import { createHash, randomUUID } from 'node:crypto';
import type { DataEndpointType, RangeDataType, UserDataEventType } from '#shared/terra/data-types';
import type { LoginFlow } from './flows.ts';
import { type TerraUser, terraTime } from './users.ts';

/**
 * Webhook bodies, shaped after the `webhooks:` section of Terra's v2-bundled.yaml and the auth events on
 * Terra's "Connect a User" page (which adds the legacy failure shape). Values are small but realistic so the
 * backend's parsers and archive see what production would send. The one library of Terra payloads: the
 * sandbox sends them, the traffic generator and the benchmark replay them, and the tests build their
 * fixtures on them (test/helpers/terra-fixtures.ts fills in Terra's example values).
 */
export type WebhookPayload = { type: string } & Record<string, unknown>;

/** `TerraUser` inside a webhook: the sandbox sends `created_at`, Terra's published examples leave it out. */
export type WebhookUser = Omit<TerraUser, 'created_at'> & { created_at?: string | null };

/** Fields every webhook may carry (`WebhookEvent`), and the top-level `reference_id` some send. */
export type WebhookEnvelope = {
  type: string;
  status?: string | null;
  message?: string | null;
  reference_id?: string | null;
};

export type UserScopedPayload = WebhookEnvelope & { user: WebhookUser };

export type AuthSuccessPayload = UserScopedPayload & {
  type: 'auth';
  status: 'success';
  version: string;
  widget_session_id?: string | null;
};

/** The 2026 failure arm: no user, only `reason` and `reference_id`. */
export type AuthCancelledPayload = WebhookEnvelope & {
  type: 'auth_cancelled';
  status: 'error';
  flow_id: string | null;
  reason: string | null;
};

/** The legacy failure arm: `type: auth`, `status: error`, with the user Terra allocated and then deleted. */
export type LegacyAuthFailurePayload = UserScopedPayload & {
  type: 'auth';
  status: 'error';
  reason?: string | null;
  version: string;
  widget_session_id?: string | null;
};

export type UserReauthPayload = WebhookEnvelope & {
  type: 'user_reauth';
  version: string;
  new_user: WebhookUser;
  old_user?: WebhookUser | null;
};

export type PermissionChangePayload = UserScopedPayload & {
  type: 'permission_change';
  version: string;
  scopes_added: string;
  scopes_removed: string;
};

export type S3PayloadEvent = WebhookEnvelope & { type: 's3_payload'; url: string; expires_in: number };

export type LargeRequestSendingPayload = UserScopedPayload & {
  type: 'large_request_sending';
  reference: string;
  expected_payloads: number;
};

export type LargeRequestProcessingPayload = UserScopedPayload & {
  type: 'large_request_processing';
  reference: string;
};

export type DataEventPayload = UserScopedPayload & {
  type: UserDataEventType;
  version: string;
  /** Every data event but `athlete` carries a `data` array; `athlete` carries one `athlete` object. */
  data?: unknown[];
  athlete?: Record<string, unknown>;
};

export type HealthcheckPayload = WebhookEnvelope & {
  type: 'healthcheck';
  creation_timestamp: string;
  trend_percentage: number;
  sent_webhooks_last_hour: number;
};

/** Operational events that carry a user but say nothing about the connection itself. */
export type InformationalType = 'rate_limit_hit' | 'google_no_datasource' | 'processing';

export type InformationalPayload = UserScopedPayload & { type: InformationalType };

/** Report-scoped lab events: the envelope type is `lab_report.<outcome>`, and there is no user. */
export type LabReportPayload = {
  type: 'lab_report.completed' | 'lab_report.failed';
  event_id: string;
  occurred_at: string;
  data: { session_id: string; reference_id: string; [key: string]: unknown };
};

/** The payload schema version Terra stamps on user and data events. */
const VERSION = '2022-03-16';

export const USER_EVENT_TYPES = [
  'access_revoked',
  'connection_error',
  'permission_change',
  'deauth',
] as const;
export type UserEventType = (typeof USER_EVENT_TYPES)[number];

export const isUserEventType = (type: string): type is UserEventType =>
  (USER_EVENT_TYPES as readonly string[]).includes(type);

/** The data events that carry their records in a `data` array: every one but the athlete's profile. */
export type DataArrayType = Exclude<UserDataEventType, 'athlete'>;

export function authSuccess(
  user: WebhookUser,
  flow: Pick<LoginFlow, 'widget_session_id'> | null,
): AuthSuccessPayload {
  const payload: AuthSuccessPayload = {
    type: 'auth',
    status: 'success',
    message: 'User has successfully authenticated',
    reference_id: user.reference_id,
    user,
    version: VERSION,
  };
  if (flow?.widget_session_id) payload.widget_session_id = flow.widget_session_id;
  return payload;
}

/** The 2026 failure arm: no user, only the flow, a reason and the reference_id. */
export function authCancelled(flow: Pick<LoginFlow, 'flow_id' | 'reference_id'>): AuthCancelledPayload {
  return {
    type: 'auth_cancelled',
    status: 'error',
    flow_id: flow.flow_id,
    reason: 'access_denied',
    reference_id: flow.reference_id,
  };
}

/** The older failure arm: `auth` with `status: error`, carrying the user Terra allocated and then deleted. */
export function legacyAuthFailure(
  flow: Pick<LoginFlow, 'user_id' | 'provider' | 'reference_id' | 'widget_session_id'>,
  reason = 'auth_cancelled',
): LegacyAuthFailurePayload {
  const payload: LegacyAuthFailurePayload = {
    type: 'auth',
    status: 'error',
    message: 'User failed to authenticate and has been deleted',
    reason,
    reference_id: flow.reference_id,
    user: {
      user_id: flow.user_id,
      provider: flow.provider,
      last_webhook_update: null,
      scopes: null,
      reference_id: flow.reference_id,
      active: true,
      created_at: null,
    },
    version: VERSION,
  };
  if (flow.widget_session_id) payload.widget_session_id = flow.widget_session_id;
  return payload;
}

export function userReauth(oldUser: WebhookUser, newUser: WebhookUser): UserReauthPayload {
  return {
    type: 'user_reauth',
    status: 'warning',
    message: 'User has reauthenticated and old ID has been deleted',
    version: VERSION,
    old_user: oldUser,
    new_user: newUser,
  };
}

export function deauth(user: WebhookUser): UserScopedPayload {
  return { type: 'deauth', status: 'success', message: 'User has deauthenticated', user };
}

export function accessRevoked(user: WebhookUser): UserScopedPayload {
  return { type: 'access_revoked', status: 'warning', message: 'User revoked access', user };
}

export function connectionError(user: WebhookUser): UserScopedPayload {
  return {
    type: 'connection_error',
    status: 'warning',
    message:
      "Connection degraded: the provider rejected Terra's access token; the user may need to reauthenticate",
    user,
  };
}

export function permissionChange(user: WebhookUser, added: string, removed: string): PermissionChangePayload {
  return {
    type: 'permission_change',
    status: 'warning',
    message: 'User permissions have been modified',
    version: VERSION,
    scopes_added: added,
    scopes_removed: removed,
    user,
  };
}

export function largeRequestProcessing(user: WebhookUser, reference: string): LargeRequestProcessingPayload {
  return {
    type: 'large_request_processing',
    status: 'processing',
    reference,
    message: 'Large request is being processed; the data will follow in chunks',
    user,
  };
}

export function largeRequestSending(
  user: WebhookUser,
  reference: string,
  expected: number,
): LargeRequestSendingPayload {
  return {
    type: 'large_request_sending',
    reference,
    message: 'Large request payloads are being sent',
    expected_payloads: expected,
    user,
  };
}

/** What goes out instead of a body too large to send inline: a link to it (S3PayloadEvent). */
export function s3Payload(url: string, expiresIn: number): S3PayloadEvent {
  return { type: 's3_payload', status: 'success', url, expires_in: expiresIn };
}

/** Terra's periodic liveness ping: no user, delivery statistics only. */
export function healthcheck(at: Date, sentLastHour: number): HealthcheckPayload {
  return {
    type: 'healthcheck',
    status: 'success',
    creation_timestamp: terraTime(at),
    trend_percentage: 0,
    sent_webhooks_last_hour: sentLastHour,
  };
}

const INFORMATIONAL_MESSAGES: Record<InformationalType, string> = {
  rate_limit_hit: 'Provider rate limit hit; the request will be retried',
  google_no_datasource: 'No data source found for the requested data type',
  processing: 'Request is being processed; data will be sent when ready',
};

/** `rate_limit_hit`, `google_no_datasource` and `processing`: a user and a message, nothing more. */
export function informational(type: InformationalType, user: WebhookUser): InformationalPayload {
  return { type, status: 'warning', message: INFORMATIONAL_MESSAGES[type], user };
}

/** A lab report's outcome, about the report's session and the patient's reference_id. */
export function labReport(
  outcome: 'completed' | 'failed',
  report: { session_id: string; reference_id: string },
  eventId: string = `evt_${randomUUID()}`,
  at: Date = new Date(),
): LabReportPayload {
  return {
    type: `lab_report.${outcome}`,
    event_id: eventId,
    occurred_at: at.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    data: { ...report },
  };
}

const DAY_MS = 24 * 3600_000;

/** Midnight UTC of the day `date` falls in. */
export const utcDay = (date: Date): Date =>
  new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));

const isoDate = (date: Date): string => date.toISOString().slice(0, 10);

/**
 * Where a record's numbers and ids come from. A fired event uses the fixed values below with fresh ids (it is
 * "new data"); a date-range request derives both from the user and day, so asking for the same range twice
 * answers the same records (the same `summary_id`s), as a provider's history would.
 */
interface Source {
  /** `base` moved by up to ±`spread` of itself, rounded to `decimals`. */
  around(base: number, spread?: number, decimals?: number): number;
  id(): string;
}

const FIXED: Source = { around: (base) => base, id: () => randomUUID() };

/** Numbers in [0, 1) that depend only on `seed` (mulberry32 over a SHA-256 of it). */
function seededRandom(seed: string): () => number {
  let state = createHash('sha256').update(seed).digest().readUInt32LE(0);
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A UUID-shaped id that depends only on `seed`. */
function stableId(seed: string): string {
  const hex = createHash('sha256').update(seed).digest('hex');
  const variant = ((Number.parseInt(hex[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function seededSource(seed: string): Source {
  const random = seededRandom(seed);
  let ids = 0;
  return {
    around(base, spread = 0.15, decimals = 0) {
      const scale = 10 ** decimals;
      return Math.round(base * (1 + (random() * 2 - 1) * spread) * scale) / scale;
    },
    id: () => stableId(`${seed}|${ids++}`),
  };
}

/** One record of `type` for the UTC day starting at `start` (for sleep: the night that ends that morning). */
function dataFor(type: DataArrayType, start: Date, source: Source): Record<string, unknown> {
  const end = new Date(start.getTime() + DAY_MS);
  const at = (hours: number, minutes = 0) =>
    terraTime(new Date(start.getTime() + (hours * 60 + minutes) * 60_000));
  const window = { start_time: terraTime(start), end_time: terraTime(end) };
  const n = (base: number, decimals = 0) => source.around(base, 0.15, decimals);
  switch (type) {
    case 'activity':
      return {
        metadata: {
          name: 'Morning Run',
          summary_id: source.id(),
          start_time: at(7, 4),
          end_time: at(7, 52),
          type: 8,
          upload_type: 1,
        },
        distance_data: { summary: { distance_meters: n(8250.4, 1), steps: n(7902) } },
        calories_data: { total_burned_calories: n(512.5, 1), net_activity_calories: n(431.2, 1) },
        heart_rate_data: { summary: { avg_hr_bpm: n(148.2, 1), max_hr_bpm: n(181) } },
      };
    case 'sleep':
      return {
        metadata: {
          summary_id: source.id(),
          start_time: terraTime(new Date(start.getTime() - 48 * 60_000)),
          end_time: at(7, 2),
          is_nap: false,
          upload_type: 1,
        },
        sleep_durations_data: {
          asleep: {
            duration_asleep_state_seconds: n(25200),
            duration_deep_sleep_state_seconds: n(5400),
            duration_REM_sleep_state_seconds: n(5100),
          },
          awake: { duration_awake_state_seconds: n(1500) },
          sleep_efficiency: source.around(91.5, 0.05, 1),
        },
      };
    case 'daily':
      return {
        metadata: { ...window, upload_type: 0 },
        distance_data: { steps: n(11894), distance_meters: n(9412.7, 1) },
        calories_data: { total_burned_calories: n(2450.8, 1) },
        active_durations_data: { activity_seconds: n(5340) },
      };
    case 'body':
      return {
        metadata: window,
        measurements_data: {
          measurements: [
            {
              measurement_time: at(7, 55),
              weight_kg: source.around(72.4, 0.02, 1),
              bodyfat_percentage: source.around(17.9, 0.05, 1),
              BMI: source.around(22.6, 0.02, 1),
            },
          ],
        },
        heart_data: { heart_rate_data: { summary: { resting_hr_bpm: n(52) } } },
      };
    case 'nutrition':
      return {
        metadata: window,
        summary: {
          macros: {
            calories: n(2105),
            protein_g: n(128.4, 1),
            carbohydrates_g: n(231),
            fat_g: n(71.3, 1),
          },
          water_ml: n(2300),
        },
      };
    case 'menstruation':
      return {
        metadata: window,
        menstruation_data: {
          period_start_date: isoDate(new Date(start.getTime() - 3 * DAY_MS)),
          day_in_cycle: 4,
          period_length_days: 5,
          current_phase: 1,
          is_predicted_cycle: false,
        },
      };
    // Sent by webhook only (no data endpoint asks for them): the bundle's examples, trimmed.
    case 'planned_workout':
      return { metadata: { id: source.id(), name: 'Tempo run', type: 8 }, steps: [] };
    case 'hormone':
      return { metadata: { start_time: terraTime(start) }, samples: [] };
    case 'health_observation':
      return { metadata: { start_time: terraTime(start) }, observations: [] };
  }
}

function athleteProfile(): Record<string, unknown> {
  return {
    first_name: 'Sam',
    last_name: 'Sandbox',
    sex: 'female',
    date_of_birth: '1991-04-12',
    city: 'London',
    country: 'United Kingdom',
  };
}

/** The athlete profile event: the profile under `athlete` rather than a `data` array, as Terra's does. */
export function athleteEvent(user: WebhookUser): DataEventPayload {
  return { type: 'athlete', version: VERSION, user, athlete: athleteProfile() };
}

/** The inline answer of `GET /athlete?to_webhook=false` (AthleteCollection). */
export function athleteCollection(user: TerraUser): Record<string, unknown> {
  return { athlete: athleteProfile(), type: 'athlete', user };
}

/** A data event of `type` carrying `data`, as a data request's webhook (or one chunk of it) does. */
export function dataEventWith(type: DataArrayType, user: WebhookUser, data: unknown[]): DataEventPayload {
  return { type, version: VERSION, user, data };
}

/** The record of `type` for the UTC day starting at `day`, the same for the same `seed` every time. */
export function recordFor(type: DataArrayType, day: Date, seed: string): Record<string, unknown> {
  return dataFor(type, day, seededSource(`${seed}|${type}|${isoDate(day)}`));
}

/**
 * The records a provider holds for `days` (UTC midnights): one a day, except activity, which a user does not
 * log every day. Stable for a given user and day.
 */
export function recordsFor(type: RangeDataType, userId: string, days: readonly Date[]): unknown[] {
  const records: unknown[] = [];
  for (const day of days) {
    if (type === 'activity' && seededRandom(`${userId}|${type}|${isoDate(day)}|trained`)() >= 0.6) continue;
    records.push(recordFor(type, day, userId));
  }
  return records;
}

/** A fired data event: yesterday (UTC), so repeated runs produce plausible, current-looking records. */
export function dataEvent(
  type: DataEndpointType,
  user: WebhookUser,
  now: Date = new Date(),
): DataEventPayload {
  if (type === 'athlete') return athleteEvent(user);
  const yesterday = new Date(utcDay(now).getTime() - DAY_MS);
  return dataEventWith(type, user, [dataFor(type, yesterday, FIXED)]);
}

/**
 * A sample series of the kind each data type carries (heart rate, drinks, flow logs), with which
 * `padToBytes` makes an event as large as a long recording would be.
 */
function sampler(type: RangeDataType, record: Record<string, unknown>) {
  const metadata = record.metadata as { start_time: string; end_time: string };
  const from = Date.parse(metadata.start_time);
  const span = Math.max(60_000, Date.parse(metadata.end_time) - from);
  const time = (i: number, count: number) => terraTime(new Date(from + Math.floor((i * span) / count)));
  const bpm = (i: number) => Math.round(68 + 22 * Math.sin(i / 40) + 6 * Math.sin(i / 7));
  const heartRate = (i: number, count: number) => ({ timestamp: time(i, count), bpm: bpm(i) });
  const withHr = (at: Record<string, unknown>, samples: unknown[]) => ({
    ...at,
    detailed: { ...((at.detailed as object | undefined) ?? {}), hr_samples: samples },
  });
  switch (type) {
    case 'activity':
      return {
        sample: (i: number, count: number) => ({
          ...heartRate(i, count),
          timer_duration_seconds: Math.floor((i * span) / count / 1000),
        }),
        place: (samples: unknown[]) => ({
          ...record,
          heart_rate_data: withHr((record.heart_rate_data as Record<string, unknown>) ?? {}, samples),
        }),
      };
    case 'daily':
    case 'sleep':
      return {
        sample: heartRate,
        place: (samples: unknown[]) => ({
          ...record,
          heart_rate_data: withHr((record.heart_rate_data as Record<string, unknown>) ?? {}, samples),
        }),
      };
    case 'body': {
      const heart = (record.heart_data as Record<string, unknown>) ?? {};
      return {
        sample: heartRate,
        place: (samples: unknown[]) => ({
          ...record,
          heart_data: {
            ...heart,
            heart_rate_data: withHr((heart.heart_rate_data as Record<string, unknown>) ?? {}, samples),
          },
        }),
      };
    }
    case 'nutrition':
      return {
        // drink_unit 8 is millilitres (NutritionUnits).
        sample: (i: number, count: number) => ({
          timestamp: time(i, count),
          drink_volume: 150 + (i % 4) * 50,
          drink_unit: 8,
          drink_name: i % 3 === 0 ? 'Coffee' : 'Water',
        }),
        place: (samples: unknown[]) => ({ ...record, drink_samples: samples }),
      };
    case 'menstruation':
      return {
        // flow 1 is "none", 2-4 light to heavy (MenstruationFlow).
        sample: (i: number, count: number) => ({ timestamp: time(i, count), flow: 1 + (i % 4) }),
        place: (samples: unknown[]) => ({
          ...record,
          menstruation_data: { ...(record.menstruation_data as object), menstruation_flow: samples },
        }),
      };
  }
}

/**
 * The same event with samples added to its first record until its JSON is at least `bytes` long (and not
 * much longer), so a test or the demo can make a payload as large as a long recording on demand.
 */
export function padToBytes(event: WebhookPayload, bytes: number): WebhookPayload {
  const type = event.type as RangeDataType;
  const records = event.data as Array<Record<string, unknown>> | undefined;
  const first = records?.[0];
  if (!records || !first) return event;
  const { sample, place } = sampler(type, first);
  const build = (count: number): WebhookPayload => {
    const samples = Array.from({ length: count }, (_, i) => sample(i, count));
    return { ...event, data: [place(samples), ...records.slice(1)] };
  };
  const size = (payload: WebhookPayload) => Buffer.byteLength(JSON.stringify(payload));
  const base = size(build(0));
  if (base >= bytes) return event;
  const perSample = (size(build(100)) - base) / 100;
  let count = Math.ceil((bytes - base) / perSample);
  let padded = build(count);
  // Sample sizes vary by a few characters; top up until the target is reached.
  for (let shortBy = bytes - size(padded); shortBy > 0; shortBy = bytes - size(padded)) {
    count += Math.ceil(shortBy / perSample) + 1;
    padded = build(count);
  }
  return padded;
}
