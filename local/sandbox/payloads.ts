import { createHash, randomUUID } from 'node:crypto';
import type { LoginFlow } from './flows.ts';
import { type TerraUser, terraTime } from './users.ts';

/**
 * Webhook bodies, shaped after the `webhooks:` section of Terra's v2-bundled.yaml and the auth events on
 * Terra's "Connect a User" page (which adds the legacy failure shape). Values are small but realistic so the
 * backend's parsers and archive see what production would send.
 */
export type WebhookPayload = { type: string } & Record<string, unknown>;

/** The payload schema version Terra stamps on user and data events. */
const VERSION = '2022-03-16';

export const DATA_EVENT_TYPES = [
  'activity',
  'sleep',
  'daily',
  'body',
  'nutrition',
  'menstruation',
  'athlete',
] as const;
export type DataEventType = (typeof DATA_EVENT_TYPES)[number];

export const USER_EVENT_TYPES = [
  'access_revoked',
  'connection_error',
  'permission_change',
  'deauth',
] as const;
export type UserEventType = (typeof USER_EVENT_TYPES)[number];

export const isDataEventType = (type: string): type is DataEventType =>
  (DATA_EVENT_TYPES as readonly string[]).includes(type);
export const isUserEventType = (type: string): type is UserEventType =>
  (USER_EVENT_TYPES as readonly string[]).includes(type);

export function authSuccess(
  user: TerraUser,
  flow: Pick<LoginFlow, 'widget_session_id'> | null,
): WebhookPayload {
  const payload: WebhookPayload = {
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
export function authCancelled(flow: LoginFlow): WebhookPayload {
  return {
    type: 'auth_cancelled',
    status: 'error',
    flow_id: flow.flow_id,
    reason: 'access_denied',
    reference_id: flow.reference_id,
  };
}

/** The older failure arm: `auth` with `status: error`, carrying the user Terra allocated and then deleted. */
export function legacyAuthFailure(flow: LoginFlow): WebhookPayload {
  const payload: WebhookPayload = {
    type: 'auth',
    status: 'error',
    message: 'User failed to authenticate and has been deleted',
    reason: 'auth_cancelled',
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

export function userReauth(oldUser: TerraUser, newUser: TerraUser): WebhookPayload {
  return {
    type: 'user_reauth',
    status: 'warning',
    message: 'User has reauthenticated and old ID has been deleted',
    version: VERSION,
    old_user: oldUser,
    new_user: newUser,
  };
}

export function deauth(user: TerraUser): WebhookPayload {
  return { type: 'deauth', status: 'success', message: 'User has deauthenticated', user };
}

export function accessRevoked(user: TerraUser): WebhookPayload {
  return { type: 'access_revoked', status: 'warning', message: 'User revoked access', user };
}

export function connectionError(user: TerraUser): WebhookPayload {
  return {
    type: 'connection_error',
    status: 'warning',
    message:
      "Connection degraded: the provider rejected Terra's access token; the user may need to reauthenticate",
    user,
  };
}

export function permissionChange(user: TerraUser, added: string, removed: string): WebhookPayload {
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

export function largeRequestProcessing(user: TerraUser, reference: string): WebhookPayload {
  return {
    type: 'large_request_processing',
    status: 'processing',
    reference,
    message: 'Large request is being processed; the data will follow in chunks',
    user,
  };
}

export function largeRequestSending(user: TerraUser, reference: string, expected: number): WebhookPayload {
  return {
    type: 'large_request_sending',
    reference,
    message: 'Large request payloads are being sent',
    expected_payloads: expected,
    user,
  };
}

/** What goes out instead of a body too large to send inline: a link to it (S3PayloadEvent). */
export function s3Payload(url: string, expiresIn: number): WebhookPayload {
  return { type: 's3_payload', status: 'success', url, expires_in: expiresIn };
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
function dataFor(
  type: Exclude<DataEventType, 'athlete'>,
  start: Date,
  source: Source,
): Record<string, unknown> {
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
export function athleteEvent(user: TerraUser): WebhookPayload {
  return { type: 'athlete', version: VERSION, user, athlete: athleteProfile() };
}

/** The inline answer of `GET /athlete?to_webhook=false` (AthleteCollection). */
export function athleteCollection(user: TerraUser): Record<string, unknown> {
  return { athlete: athleteProfile(), type: 'athlete', user };
}

export type RangeDataType = Exclude<DataEventType, 'athlete'>;

/** A data event of `type` carrying `data`, as a data request's webhook (or one chunk of it) does. */
export function dataEventWith(type: RangeDataType, user: TerraUser, data: unknown[]): WebhookPayload {
  return { type, version: VERSION, user, data };
}

/**
 * The records a provider holds for `days` (UTC midnights): one a day, except activity, which a user does not
 * log every day. Stable for a given user and day.
 */
export function recordsFor(type: RangeDataType, userId: string, days: readonly Date[]): unknown[] {
  const records: unknown[] = [];
  for (const day of days) {
    const seed = `${userId}|${type}|${isoDate(day)}`;
    if (type === 'activity' && seededRandom(`${seed}|trained`)() >= 0.6) continue;
    records.push(dataFor(type, day, seededSource(seed)));
  }
  return records;
}

/** A fired data event: yesterday (UTC), so repeated runs produce plausible, current-looking records. */
export function dataEvent(type: DataEventType, user: TerraUser, now: Date = new Date()): WebhookPayload {
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
