import * as z from 'zod';
import type { Change, ConnectionEvent } from '../connections/model.ts';
import { parseScopes, scopesIfGiven } from '../connections/transitions.ts';

/**
 * Terra webhook payloads → connection events. Shapes from Terra's OpenAPI bundle (`webhooks:` and
 * `TerraUser`), both generations: the 2026 `auth_cancelled` and the legacy `auth` + `status: error`.
 * Anything valid JSON but not understood is reported as ignored, never thrown: Terra retries 4xx.
 */

const id = z.string().trim().min(1).max(256);
const optionalText = z.string().max(4096).nullish();

const terraUser = z.looseObject({
  user_id: id,
  provider: z.string().trim().min(1).max(64).optional(),
  scopes: optionalText,
  reference_id: z.string().max(256).nullish(),
});
type TerraUser = z.infer<typeof terraUser>;

const base = z.looseObject({
  type: z.string().min(1).max(64),
  status: z.string().nullish(),
  message: optionalText,
  reason: optionalText,
  reference_id: z.string().max(256).nullish(),
});

const withUser = base.extend({ user: terraUser });
const reauth = base.extend({ new_user: terraUser, old_user: terraUser.nullish() });
const permissionChange = withUser.extend({ scopes_added: optionalText, scopes_removed: optionalText });

// Every user-scoped data event in Terra's `WebhookEventType` union; `s3_payload` stands in for any of them.
export const DATA_TYPES: ReadonlySet<string> = new Set([
  'activity',
  'athlete',
  'body',
  'daily',
  'health_observation',
  'hormone',
  'lab_report.completed',
  'lab_report.failed',
  'menstruation',
  'nutrition',
  'planned_workout',
  'sleep',
  's3_payload',
]);

export const INFORMATIONAL_TYPES: ReadonlySet<string> = new Set([
  'healthcheck',
  'large_request_processing',
  'large_request_sending',
  'rate_limit_hit',
  'google_no_datasource',
  'processing',
]);

export type IgnoredReason =
  | 'auth_cancelled'
  | 'auth_failed_without_user'
  | 'informational'
  | 'unknown_type'
  | 'unexpected_shape';

export type ParsedWebhook =
  | { kind: 'events'; type: string; events: ConnectionEvent[] }
  | { kind: 'ignored'; type: string; reason: IgnoredReason; reference_id?: string };

export interface DeliveryMeta {
  event_id: string;
  /** Ordering time, epoch ms. */
  at: number;
}

const nonEmpty = (value: string | null | undefined): string | null =>
  value === null || value === undefined || value.trim() === '' ? null : value;

function eventFor(
  user: TerraUser,
  topReference: string | null | undefined,
  meta: DeliveryMeta,
  change: Change,
) {
  const event: ConnectionEvent = {
    user_id: user.user_id,
    // Terra puts reference_id at the top level on some events and inside `user` on others.
    reference_id: nonEmpty(topReference) ?? nonEmpty(user.reference_id),
    event_id: meta.event_id,
    at: meta.at,
    change,
  };
  if (user.provider !== undefined) event.provider = user.provider;
  return event;
}

export function parseWebhook(payload: unknown, meta: DeliveryMeta): ParsedWebhook {
  const head = base.safeParse(payload);
  if (!head.success) return { kind: 'ignored', type: 'unknown', reason: 'unexpected_shape' };
  const { type } = head.data;
  const ignored = (reason: IgnoredReason): ParsedWebhook => {
    const result: ParsedWebhook = { kind: 'ignored', type, reason };
    const reference = nonEmpty(head.data.reference_id);
    if (reference !== null) result.reference_id = reference;
    return result;
  };
  const single = (change: (user: TerraUser, body: z.infer<typeof withUser>) => Change): ParsedWebhook => {
    const parsed = withUser.safeParse(payload);
    if (!parsed.success) return ignored('unexpected_shape');
    const event = eventFor(
      parsed.data.user,
      parsed.data.reference_id,
      meta,
      change(parsed.data.user, parsed.data),
    );
    return { kind: 'events', type, events: [event] };
  };

  switch (type) {
    case 'auth': {
      if (head.data.status === 'success') {
        return single((user) => {
          const scopes = scopesIfGiven(user.scopes);
          return scopes === undefined ? { kind: 'authenticated' } : { kind: 'authenticated', scopes };
        });
      }
      if (head.data.status === 'error') {
        // Legacy failure shape: a user may be attached (Terra deleted it), or only the reference_id.
        if (!withUser.safeParse(payload).success) return ignored('auth_failed_without_user');
        return single((_, body) => ({
          kind: 'auth_failed',
          reason: nonEmpty(body.reason) ?? nonEmpty(body.message) ?? 'auth_failed',
        }));
      }
      return ignored('unexpected_shape');
    }
    case 'auth_cancelled':
      return ignored('auth_cancelled');
    case 'user_reauth': {
      const parsed = reauth.safeParse(payload);
      if (!parsed.success) return ignored('unexpected_shape');
      const { new_user, old_user, reference_id } = parsed.data;
      const scopes = scopesIfGiven(new_user.scopes);
      const authenticated: Change = { kind: 'authenticated' };
      if (scopes !== undefined) authenticated.scopes = scopes;
      const events = [];
      if (old_user && old_user.user_id !== new_user.user_id) {
        authenticated.replaces = old_user.user_id;
        events.push(
          eventFor(old_user, reference_id, meta, { kind: 'replaced', replaced_by: new_user.user_id }),
        );
      }
      events.unshift(eventFor(new_user, reference_id, meta, authenticated));
      return { kind: 'events', type, events };
    }
    case 'deauth':
      return single(() => ({ kind: 'disconnected' }));
    case 'access_revoked':
      return single(() => ({ kind: 'revoked' }));
    case 'connection_error':
      return single((_, body) => {
        const reason = nonEmpty(body.message);
        return reason === null ? { kind: 'connection_error' } : { kind: 'connection_error', reason };
      });
    case 'permission_change': {
      const parsed = permissionChange.safeParse(payload);
      if (!parsed.success) return ignored('unexpected_shape');
      const { user, scopes_added, scopes_removed, reference_id } = parsed.data;
      const change: Change = {
        kind: 'scopes_changed',
        added: parseScopes(scopes_added),
        removed: parseScopes(scopes_removed),
      };
      const scopes = scopesIfGiven(user.scopes);
      if (scopes !== undefined) change.scopes = scopes;
      return { kind: 'events', type, events: [eventFor(user, reference_id, meta, change)] };
    }
    default:
      if (INFORMATIONAL_TYPES.has(type)) return ignored('informational');
      if (DATA_TYPES.has(type)) {
        // s3_payload and some data events carry no user: archived, nothing to touch.
        return withUser.safeParse(payload).success
          ? single(() => ({ kind: 'data' }))
          : ignored('informational');
      }
      return ignored('unknown_type');
  }
}
