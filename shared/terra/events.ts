import * as z from 'zod/mini';
import type { Change, ConnectionEvent } from '#shared/connections/model';
import { TERRA_DATA_TYPES } from './data-types.ts';
import { parseScopes, scopesIfGiven } from './scopes.ts';
import { presentOrNull, type TerraUser, terraUserSchema } from './user.ts';

/**
 * Terra webhook payloads → what they mean to us. Shapes from Terra's OpenAPI bundle (`webhooks:` and
 * `TerraUser`), both generations: the 2026 `auth_cancelled` and the legacy `auth` + `status: error`.
 * Anything valid JSON but not understood is reported as ignored, never thrown: Terra retries 4xx.
 */

const optionalText = z.nullish(z.string().check(z.maxLength(4096)));

/** What every delivery shares; also the webhook's body in the OpenAPI document. */
export const webhookEnvelope = z.looseObject({
  type: z.string().check(z.minLength(1), z.maxLength(64)),
  status: z.nullish(z.string()),
  message: optionalText,
  reason: optionalText,
  reference_id: z.nullish(z.string().check(z.maxLength(256))),
});

const withUser = z.extend(webhookEnvelope, { user: terraUserSchema });
const reauth = z.extend(webhookEnvelope, { new_user: terraUserSchema, old_user: z.nullish(terraUserSchema) });
const permissionChange = z.extend(withUser, { scopes_added: optionalText, scopes_removed: optionalText });
const s3Payload = z.extend(webhookEnvelope, {
  url: z.string().check(z.minLength(1), z.maxLength(8192)),
  expires_in: z.nullish(z.number()),
});
const largeRequest = z.extend(withUser, {
  reference: z.nullish(z.string().check(z.minLength(1), z.maxLength(256))),
  expected_payloads: z.nullish(z.int().check(z.gte(0), z.lte(1_000_000))),
});

export const DATA_TYPES: ReadonlySet<string> = new Set(TERRA_DATA_TYPES);

export const INFORMATIONAL_TYPES: ReadonlySet<string> = new Set([
  'healthcheck',
  'rate_limit_hit',
  'google_no_datasource',
  'processing',
]);

export type IgnoredReason =
  | 'auth_cancelled'
  | 'auth_failed_without_user'
  | 'informational'
  | 'unknown_type'
  | 'unexpected_shape'
  | 'data_without_user';

export interface DeliveryMeta {
  event_id: string;
  /** Ordering time, epoch ms. */
  at: number;
}

/** Who a delivery is about, as far as its payload says. */
export interface Subject {
  user_id: string;
  reference_id: string | null;
  provider?: string;
}

export type ParsedWebhook =
  /** Events that move connection records (auth, deauth, reauth, …). */
  | { kind: 'connection'; type: string; events: ConnectionEvent[] }
  /** A data payload for one user: touches `last_webhook_update`, announced to the app. */
  | { kind: 'data'; type: string; event: ConnectionEvent; subject: Subject }
  /** A payload too large to send inline: fetch `url` and treat the result as the data event it is. */
  | { kind: 's3_payload'; type: 's3_payload'; url: string }
  /** `large_request_processing` / `large_request_sending`: progress of a historical data request. */
  | { kind: 'tracking'; type: string; subject: Subject; reference?: string; expected_payloads?: number }
  /**
   * Changes nothing, but is kept: under its Terra user when it carries one (so a deletion sweeps it and a
   * deleted user's is refused), else under the app user it names, else unattributed.
   */
  | { kind: 'ignored'; type: string; reason: IgnoredReason; subject?: Subject; reference_id?: string };

function subjectOf(user: TerraUser, topReference: string | null | undefined): Subject {
  // Terra puts reference_id at the top level on some events and inside `user` on others.
  const subject: Subject = {
    user_id: user.user_id,
    reference_id: presentOrNull(topReference) ?? presentOrNull(user.reference_id),
  };
  if (user.provider !== undefined) subject.provider = user.provider;
  return subject;
}

function eventFor(subject: Subject, meta: DeliveryMeta, change: Change): ConnectionEvent {
  const event: ConnectionEvent = { ...subject, event_id: meta.event_id, at: meta.at, change };
  return event;
}

export function parseWebhook(payload: unknown, meta: DeliveryMeta): ParsedWebhook {
  const head = webhookEnvelope.safeParse(payload);
  if (!head.success) return { kind: 'ignored', type: 'unknown', reason: 'unexpected_shape' };
  const { type } = head.data;
  const ignored = (reason: IgnoredReason): ParsedWebhook => {
    const result: ParsedWebhook = { kind: 'ignored', type, reason };
    const carried = withUser.safeParse(payload);
    if (carried.success) {
      result.subject = subjectOf(carried.data.user, carried.data.reference_id);
      return result;
    }
    const reference = presentOrNull(head.data.reference_id);
    if (reference !== null) result.reference_id = reference;
    return result;
  };
  const single = (change: (user: TerraUser, body: z.infer<typeof withUser>) => Change): ParsedWebhook => {
    const parsed = withUser.safeParse(payload);
    if (!parsed.success) return ignored('unexpected_shape');
    const subject = subjectOf(parsed.data.user, parsed.data.reference_id);
    return {
      kind: 'connection',
      type,
      events: [eventFor(subject, meta, change(parsed.data.user, parsed.data))],
    };
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
          reason: presentOrNull(body.reason) ?? presentOrNull(body.message) ?? 'auth_failed',
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
      const events: ConnectionEvent[] = [];
      if (old_user && old_user.user_id !== new_user.user_id) {
        authenticated.replaces = old_user.user_id;
        events.push(
          eventFor(subjectOf(old_user, reference_id), meta, {
            kind: 'replaced',
            replaced_by: new_user.user_id,
          }),
        );
      }
      // The new user first: it is the delivery's subject (its archive prefix, its facts).
      events.unshift(eventFor(subjectOf(new_user, reference_id), meta, authenticated));
      return { kind: 'connection', type, events };
    }
    case 'deauth':
      return single(() => ({ kind: 'disconnected' }));
    case 'access_revoked':
      return single(() => ({ kind: 'revoked' }));
    case 'connection_error':
      return single((_, body) => {
        const reason = presentOrNull(body.message);
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
      return { kind: 'connection', type, events: [eventFor(subjectOf(user, reference_id), meta, change)] };
    }
    case 's3_payload': {
      const parsed = s3Payload.safeParse(payload);
      return parsed.success
        ? { kind: 's3_payload', type, url: parsed.data.url }
        : ignored('unexpected_shape');
    }
    case 'large_request_processing':
    case 'large_request_sending': {
      const parsed = largeRequest.safeParse(payload);
      if (!parsed.success) return ignored('unexpected_shape');
      const tracking: ParsedWebhook = {
        kind: 'tracking',
        type,
        subject: subjectOf(parsed.data.user, parsed.data.reference_id),
      };
      if (parsed.data.reference) tracking.reference = parsed.data.reference;
      if (typeof parsed.data.expected_payloads === 'number')
        tracking.expected_payloads = parsed.data.expected_payloads;
      return tracking;
    }
    default: {
      if (INFORMATIONAL_TYPES.has(type)) return ignored('informational');
      if (!DATA_TYPES.has(type)) return ignored('unknown_type');
      const parsed = withUser.safeParse(payload);
      // Some data events (lab reports) may carry no user: archived, nothing to touch.
      if (!parsed.success) return ignored('data_without_user');
      const subject = subjectOf(parsed.data.user, parsed.data.reference_id);
      return { kind: 'data', type, subject, event: eventFor(subject, meta, { kind: 'data' }) };
    }
  }
}
