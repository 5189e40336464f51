import { randomUUID } from 'node:crypto';
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

// Data events describe "yesterday" in UTC, so repeated runs produce plausible, current-looking records.
function day(now: Date): { start: Date; end: Date; at: (hours: number, minutes?: number) => string } {
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - 1));
  const end = new Date(start.getTime() + 24 * 3600_000);
  const at = (hours: number, minutes = 0) =>
    terraTime(new Date(start.getTime() + (hours * 60 + minutes) * 60_000));
  return { start, end, at };
}

function dataFor(type: Exclude<DataEventType, 'athlete'>, now: Date): Record<string, unknown> {
  const { start, end, at } = day(now);
  const window = { start_time: terraTime(start), end_time: terraTime(end) };
  switch (type) {
    case 'activity':
      return {
        metadata: {
          name: 'Morning Run',
          summary_id: randomUUID(),
          start_time: at(7, 4),
          end_time: at(7, 52),
          type: 8,
          upload_type: 1,
        },
        distance_data: { summary: { distance_meters: 8250.4, steps: 7902 } },
        calories_data: { total_burned_calories: 512.5, net_activity_calories: 431.2 },
        heart_rate_data: { summary: { avg_hr_bpm: 148.2, max_hr_bpm: 181 } },
      };
    case 'sleep':
      return {
        metadata: {
          summary_id: randomUUID(),
          start_time: terraTime(new Date(start.getTime() - 48 * 60_000)),
          end_time: at(7, 2),
          is_nap: false,
          upload_type: 1,
        },
        sleep_durations_data: {
          asleep: {
            duration_asleep_state_seconds: 25200,
            duration_deep_sleep_state_seconds: 5400,
            duration_REM_sleep_state_seconds: 5100,
          },
          awake: { duration_awake_state_seconds: 1500 },
          sleep_efficiency: 91.5,
        },
      };
    case 'daily':
      return {
        metadata: { ...window, upload_type: 0 },
        distance_data: { steps: 11894, distance_meters: 9412.7 },
        calories_data: { total_burned_calories: 2450.8 },
        active_durations_data: { activity_seconds: 5340 },
      };
    case 'body':
      return {
        metadata: window,
        measurements_data: {
          measurements: [
            { measurement_time: at(7, 55), weight_kg: 72.4, bodyfat_percentage: 17.9, BMI: 22.6 },
          ],
        },
        heart_data: { heart_rate_data: { summary: { resting_hr_bpm: 52 } } },
      };
    case 'nutrition':
      return {
        metadata: window,
        summary: {
          macros: { calories: 2105, protein_g: 128.4, carbohydrates_g: 231, fat_g: 71.3 },
          water_ml: 2300,
        },
      };
    case 'menstruation':
      return {
        metadata: window,
        menstruation_data: {
          period_start_date: new Date(start.getTime() - 3 * 24 * 3600_000).toISOString().slice(0, 10),
          day_in_cycle: 4,
          period_length_days: 5,
          current_phase: 1,
          is_predicted_cycle: false,
        },
      };
  }
}

/** A data event; `athlete` carries its profile under `athlete` rather than a `data` array, as Terra's does. */
export function dataEvent(type: DataEventType, user: TerraUser, now: Date = new Date()): WebhookPayload {
  if (type === 'athlete') {
    return {
      type,
      version: VERSION,
      user,
      athlete: {
        first_name: 'Sam',
        last_name: 'Sandbox',
        sex: 'female',
        date_of_birth: '1991-04-12',
        city: 'London',
        country: 'United Kingdom',
      },
    };
  }
  return { type, version: VERSION, user, data: [dataFor(type, now)] };
}
