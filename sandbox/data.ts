import { randomUUID } from 'node:crypto';
import type { DataEndpointType, RangeDataType } from '#shared/terra/data-types';
import type { SandboxContext } from './context.ts';
import { badRequest, notFound, requiredParam, type SandboxRequest } from './http.ts';
import { noteDataSent } from './lifecycle.ts';
import {
  athleteCollection,
  athleteEvent,
  dataEventWith,
  largeRequestProcessing,
  largeRequestSending,
  recordsFor,
  utcDay,
  type WebhookPayload,
} from './payloads.ts';
import type { SandboxSettings } from './settings.ts';
import { type TerraUserRecord, toTerraUser } from './users.ts';

/**
 * Terra's data endpoints (`GET /activity`, `/daily`, `/sleep`, `/body`, `/nutrition`, `/menstruation`,
 * `/athlete`): a user's data for a date range, answered inline (`to_webhook=false`) or, by default, sent to
 * the webhook. A range over `largeRequestThresholdDays` is a large request, delivered as Terra does:
 * `large_request_processing`, `large_request_sending` with `expected_payloads`, then that many chunks. Every
 * delivery of a request carries its `terra-reference`; each chunk has its own trace id
 * `<reference>:chunk:<i>` (rules/webhooks-dedupe-terra-reference.md).
 */

const DAY_MS = 24 * 3600_000;
// Ten years: far more history than a provider keeps, and a bound on what one request can make us build.
const MAX_RANGE_DAYS = 3660;

export interface DataRange {
  start: Date;
  /** Exclusive. */
  end: Date;
}

/**
 * `start_date`/`end_date`: an ISO 8601 date (`YYYY-MM-DD`, a UTC day) or a 10-digit unix timestamp in
 * seconds. A date as `end_date` includes that whole day.
 */
export function parseDateParam(name: string, raw: string, asEnd = false): Date {
  if (/^\d{10}$/.test(raw)) return new Date(Number(raw) * 1000);
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(raw);
  if (match) {
    const [, year, month, day] = match.map(Number) as [number, number, number, number];
    const date = new Date(Date.UTC(year, month - 1, day));
    // Rejects what Date would roll over, such as 2026-02-30.
    if (date.getUTCMonth() === month - 1 && date.getUTCDate() === day)
      return asEnd ? new Date(date.getTime() + DAY_MS) : date;
  }
  throw badRequest(
    `${name} must be an ISO 8601 date (YYYY-MM-DD) or a 10-digit unix timestamp in seconds, got ${raw.slice(0, 64)}`,
  );
}

export function parseBooleanParam(request: SandboxRequest, name: string, fallback: boolean): boolean {
  const raw = request.url.searchParams.get(name);
  if (raw === null || raw === '') return fallback;
  const value = raw.toLowerCase();
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw badRequest(`${name} must be true or false, got ${raw.slice(0, 64)}`);
}

/** The requested range; `end_date` defaults to now. */
export function parseRange(request: SandboxRequest, now: Date): DataRange {
  const { searchParams } = request.url;
  const start = parseDateParam('start_date', requiredParam(request, 'start_date'));
  const rawEnd = searchParams.get('end_date');
  const end = rawEnd === null || rawEnd === '' ? now : parseDateParam('end_date', rawEnd, true);
  if (end < start) throw badRequest('end_date must not be before start_date');
  return { start, end };
}

/** The UTC days (their midnights) that the range touches. */
export function daysIn(range: DataRange): Date[] {
  const days: Date[] = [];
  for (let day = utcDay(range.start); day < range.end; day = new Date(day.getTime() + DAY_MS)) {
    if (days.length >= MAX_RANGE_DAYS)
      throw badRequest(`start_date: the sandbox serves at most ${MAX_RANGE_DAYS} days per request`);
    days.push(day);
  }
  return days;
}

/** Consecutive groups of `size` days, the last one shorter. */
export function chunkDays(days: readonly Date[], size: number): Date[][] {
  const chunks: Date[][] = [];
  for (let i = 0; i < days.length; i += size) chunks.push(days.slice(i, i + size));
  return chunks;
}

/** What the provider has for those of `days` that have begun by `now`. */
const pastRecords = (type: RangeDataType, userId: string, days: readonly Date[], now: Date) =>
  recordsFor(
    type,
    userId,
    days.filter((day) => day < now),
  );

interface Planned {
  payload: WebhookPayload;
  traceId?: string;
}

/**
 * The webhooks a request to the webhook sends, in order. Small: one event of the type whose trace id is the
 * request's reference (the `trace_id` Terra answered). Large: the two announcements, then the chunks. No
 * provider has data from the future, so days after `now` are asked for but come back empty.
 */
export function planDeliveries(
  type: DataEndpointType,
  user: TerraUserRecord,
  days: readonly Date[],
  reference: string,
  settings: Pick<SandboxSettings, 'largeRequestThresholdDays' | 'largeRequestChunkDays'>,
  now: Date,
): Planned[] {
  const terraUser = toTerraUser(user);
  if (type === 'athlete') return [{ payload: athleteEvent(terraUser), traceId: reference }];
  const records = (span: readonly Date[]) => pastRecords(type, user.user_id, span, now);
  if (days.length <= settings.largeRequestThresholdDays)
    return [{ payload: dataEventWith(type, terraUser, records(days)), traceId: reference }];
  const chunks = chunkDays(days, settings.largeRequestChunkDays);
  return [
    { payload: largeRequestProcessing(terraUser, reference) },
    { payload: largeRequestSending(terraUser, reference, chunks.length) },
    ...chunks.map((span, i) => ({
      payload: dataEventWith(type, terraUser, records(span)),
      traceId: `${reference}:chunk:${i}`,
    })),
  ];
}

const LARGE_REQUEST_MESSAGE =
  'Large request submitted: the data is being processed and will be sent to your webhook in chunks';

/** `GET /{type}` as Terra answers it. */
export function dataRequest(context: SandboxContext, request: SandboxRequest, type: DataEndpointType) {
  const userId = requiredParam(request, 'user_id');
  const now = new Date();
  // The athlete profile has no dates; Terra's /athlete takes none.
  const days = type === 'athlete' ? [] : daysIn(parseRange(request, now));
  const toWebhook = parseBooleanParam(request, 'to_webhook', true);
  // Accepted for compatibility; the sandbox's records carry samples only when padded on purpose.
  parseBooleanParam(request, 'with_samples', false);
  const user = context.users.get(userId);
  if (!user) throw notFound('user not found');

  if (!toWebhook) {
    const terraUser = toTerraUser(user);
    const body =
      type === 'athlete'
        ? athleteCollection(terraUser)
        : { user: terraUser, data: pastRecords(type, userId, days, now), type };
    noteDataSent(context, userId, now, false);
    return { status: 200, body };
  }

  const reference = randomUUID();
  const settings = context.settings();
  const planned = planDeliveries(type, user, days, reference, settings, now);
  const headers = { 'terra-reference': reference };
  for (const { payload, traceId } of planned) context.deliverer.emit(payload, { headers, traceId });
  noteDataSent(context, userId, now, true);
  const large = planned[0]?.payload.type === 'large_request_processing';
  return {
    status: 200,
    body: {
      status: 'success',
      type,
      reference,
      trace_id: reference,
      ...(large ? { message: LARGE_REQUEST_MESSAGE } : {}),
      user: {
        user_id: user.user_id,
        provider: user.provider,
        reference_id: user.reference_id,
        created_at: user.created_at,
        active: user.active,
      },
    },
  };
}
