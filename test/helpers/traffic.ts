import { randomUUID } from 'node:crypto';
import { type DynamoDBDocumentClient, ScanCommand, type ScanCommandOutput } from '@aws-sdk/lib-dynamodb';
import type { LoginFlow } from '#sandbox/flows';
import {
  accessRevoked,
  authCancelled,
  authSuccess,
  connectionError,
  dataEvent,
  dataEventWith,
  deauth,
  healthcheck,
  legacyAuthFailure,
  padToBytes,
  permissionChange,
  userReauth,
  type WebhookPayload,
} from '#sandbox/payloads';
import type { TerraUser } from '#sandbox/users';
import {
  type Connection,
  type ConnectionEvent,
  type ConnectionRecord,
  toConnection,
} from '#shared/connections/model';
import type { RangeDataType } from '#shared/terra/data-types';
import { parseWebhook } from '#shared/terra/events';
import { signPayload } from '#shared/terra/signature';

/**
 * Terra-like webhook traffic, for the load and fault tests and for `npm run bench`: whole user
 * lifecycles or a steady production-like mix, delivered with Terra's habits (a trace id per delivery,
 * an ordering timestamp, a fresh signature per attempt, retries until a 2xx), and the check of a table
 * against the records a reference model says it must hold. Payloads come from the sandbox's builders
 * (sandbox/payloads.ts), shaped after Terra's published examples.
 *
 * The reference model is passed in, never imported: the property tests own the independent one
 * (test/property/reference-model.ts); test/helpers/delivery-stream.ts binds it for the tests.
 */
export interface Delivery {
  trace_id: string;
  /** x-terra-ordering-timestamp, ms. */
  at: number;
  body: string;
}

/** A delivery of the production-like mix, labelled for per-type figures. */
export interface MixDelivery extends Delivery {
  type: string;
  /** A redelivery of an earlier one: same trace id, same body. */
  duplicate: boolean;
}

/** The public record of one Terra user after all of `events` (every event is for that user). */
export type ReferenceModel = (events: readonly ConnectionEvent[]) => Connection | undefined;

export interface Stream {
  deliveries: Delivery[];
  /** Per Terra user, the expected public record. */
  expected: Map<string, Connection>;
  distinct: number;
}

/** A small deterministic PRNG, so a failing stream can be regenerated from its seed. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PROVIDERS = ['GARMIN', 'OURA', 'FITBIT', 'WHOOP', 'POLAR'];
const DEFAULT_SCOPES = 'ACTIVITY_EXPORT,HEALTH_EXPORT';

/** A Terra user as webhooks carry it. */
export function terraUser(user_id: string, reference_id: string | null, provider = 'GARMIN'): TerraUser {
  return {
    user_id,
    provider,
    last_webhook_update: null,
    scopes: DEFAULT_SCOPES,
    reference_id,
    active: true,
    created_at: null,
  };
}

/** A login flow that ended without a connection, for the two failure payloads. */
function failedFlow(user_id: string, provider: string, reference_id: string | null): LoginFlow {
  return {
    flow_id: randomUUID(),
    user_id,
    provider,
    reference_id,
    language: null,
    widget_session_id: null,
    expires_at: 0,
    state: 'cancelled',
    auth_success_redirect_url: null,
    auth_failure_redirect_url: null,
  };
}

/**
 * The records of data events of about `bytes` (heart-rate samples), built once per type and reused:
 * padding each event separately would dominate the time to generate a stream.
 */
function paddedData(types: readonly RangeDataType[], bytes: number): Map<RangeDataType, unknown[]> {
  const sample = terraUser('00000000-0000-4000-8000-000000000000', 'sample');
  const data = new Map<RangeDataType, unknown[]>();
  for (const type of new Set(types)) {
    const padded = padToBytes(dataEvent(type, sample, new Date(Date.UTC(2026, 6, 2))), bytes);
    data.set(type, (padded.data as unknown[] | undefined) ?? []);
  }
  return data;
}

const eventsOf = (delivery: Delivery): ConnectionEvent[] => {
  const parsed = parseWebhook(JSON.parse(delivery.body), { event_id: delivery.trace_id, at: delivery.at });
  return parsed.kind === 'connection' ? parsed.events : parsed.kind === 'data' ? [parsed.event] : [];
};

/** What the table must hold after `deliveries` (each trace id counted once), by `model`. */
export function expectedConnections(
  deliveries: Iterable<Delivery>,
  model: ReferenceModel,
): Map<string, Connection> {
  const seen = new Set<string>();
  const perUser = new Map<string, ConnectionEvent[]>();
  for (const delivery of deliveries) {
    if (seen.has(delivery.trace_id)) continue;
    seen.add(delivery.trace_id);
    for (const event of eventsOf(delivery)) {
      const events = perUser.get(event.user_id) ?? [];
      events.push(event);
      perUser.set(event.user_id, events);
    }
  }
  const expected = new Map<string, Connection>();
  for (const [user_id, events] of perUser) {
    const connection = model(events);
    if (connection) expected.set(user_id, connection);
  }
  return expected;
}

export interface LifecycleOptions {
  users: number;
  eventsPerUser: number;
  duplicateRate: number;
  seed: number;
  bigPayloadRate?: number;
  /** Chance per event that the user reconnects (user_reauth + auth, a new user_id). */
  reauthRate?: number;
}

/**
 * Whole user lifecycles (auth, data, permission changes, errors, reauth chains, deauth), then shuffled
 * and partly duplicated, a few copies side by side: what Terra's at-least-once delivery in any order
 * produces. `expected` is what `model` says the table must hold afterwards.
 */
export function lifecycleStream(options: LifecycleOptions, model: ReferenceModel): Stream {
  const reauthRate = options.reauthRate ?? 0.05;
  const random = prng(options.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const base = Date.now() - 60 * 60 * 1000;
  const deliveries: Delivery[] = [];
  const emit = (payload: WebhookPayload, at: number) =>
    deliveries.push({ trace_id: randomUUID(), at, body: JSON.stringify(payload) });
  const dataTypes = ['activity', 'sleep', 'daily', 'body'] as const;
  const big = paddedData(dataTypes, 10_000);

  let users = 0;
  while (users < options.users) {
    const reference_id = `app-user-${randomUUID().slice(0, 8)}`;
    const provider = pick(PROVIDERS);
    let at = base + Math.floor(random() * 1_000_000);
    let user = terraUser(randomUUID(), reference_id, provider);
    users++;
    emit(authSuccess(user, null), at);
    // Data, permission changes and errors; now and then a reauth starts a new user in the chain.
    for (let i = 1; i < options.eventsPerUser; i++) {
      at += 1 + Math.floor(random() * 5_000);
      const roll = random();
      if (roll < 0.7) {
        const type = pick(dataTypes);
        const large = random() < (options.bigPayloadRate ?? 0.1);
        emit(large ? dataEventWith(type, user, big.get(type) ?? []) : dataEvent(type, user), at);
      } else if (roll < 0.8) {
        user = { ...user, scopes: random() < 0.5 ? 'ACTIVITY_EXPORT' : 'ACTIVITY_EXPORT,SLEEP_EXPORT' };
        emit(permissionChange(user, 'SLEEP_EXPORT', ''), at);
      } else if (roll < 0.88) {
        emit(connectionError(user), at);
      } else if (roll < 0.88 + reauthRate && users < options.users) {
        const next = terraUser(randomUUID(), reference_id, provider);
        users++;
        emit(userReauth(user, next), at);
        emit(authSuccess(next, null), at + 1);
        at += 1;
        user = next;
      } else if (roll < 0.9 + reauthRate) {
        emit(accessRevoked(user), at);
      } else {
        emit(authSuccess(user, null), at);
      }
    }
    if (random() < 0.2) emit(deauth({ ...user, active: false }), at + 10);
  }

  const expected = expectedConnections(deliveries, model);
  const distinct = deliveries.length;
  const all = [...deliveries];
  for (const delivery of deliveries) if (random() < options.duplicateRate) all.push(delivery);
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [all[i], all[j]] = [all[j] as Delivery, all[i] as Delivery];
  }
  for (let i = 0; i + 1 < all.length; i += 97) all.splice(i + 1, 0, all[i] as Delivery);
  return { deliveries: all, expected, distinct };
}

/** Users already connected before a mix starts, and the auth deliveries that connected them. */
export function population(count: number, prefix: string): { users: TerraUser[]; auths: MixDelivery[] } {
  const users = Array.from({ length: count }, (_, i) =>
    terraUser(`${prefix}-user-${i}`, `app-user-${prefix}-${i}`, PROVIDERS[i % PROVIDERS.length]),
  );
  const at = Date.now() - 7_200_000;
  const auths = users.map((user, i) => ({
    type: 'auth',
    trace_id: `${prefix}-auth-${i}`,
    at: at + i,
    body: JSON.stringify(authSuccess(user, null)),
    duplicate: false,
  }));
  return { users, auths };
}

export interface MixOptions {
  count: number;
  seed: number;
  /** Share of deliveries that repeat an earlier one (default 0.1). */
  duplicateRate?: number;
  /** Size of a data event's body (default 10,000 bytes). */
  dataBytes?: number;
  /** Prefix for ids, so several streams can share one table without colliding. */
  prefix?: string;
  /** Users connected before the stream starts (see `population`). */
  users?: readonly TerraUser[];
}

export const MIX_DATA_TYPES: readonly RangeDataType[] = [
  'activity',
  'daily',
  'sleep',
  'body',
  'activity',
  'daily',
];

/**
 * A steady production-like stream, one delivery at a time (a consumer need not hold 10,000 bodies):
 * of the originals about 82 % data events of ~10 KB, 8 % new users connecting, 2 % reauth, 2 %
 * connection errors, 1.5 % legacy auth failures, 1 % cancelled logins, 2.5 % permission changes,
 * 0.5 % healthchecks, 0.5 % deauth or revoked access; about one delivery in ten a redelivery of one 64
 * to 256 deliveries earlier (a retry, not a concurrent copy). Deterministic for a seed (ids included).
 */
export function* terraMix(options: MixOptions): Generator<MixDelivery> {
  const random = prng(options.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const prefix = options.prefix ?? `s${options.seed}`;
  const rate = options.duplicateRate ?? 0.1;
  let ids = 0;
  const id = (kind: string) => `${prefix}-${kind}-${(ids++).toString(36)}`;
  const data = paddedData(MIX_DATA_TYPES, options.dataBytes ?? 10_000);
  let at = Date.now() - 3_600_000;
  const recent: MixDelivery[] = [];
  let originals = 0;
  const active: TerraUser[] = [...(options.users ?? [])];
  const newUser = () => terraUser(id('user'), `app-user-${id('ref')}`, pick(PROVIDERS));

  const next = (): WebhookPayload => {
    const r = random();
    const i = Math.floor(random() * active.length);
    const user = active[i];
    if (!user || active.length < 8 || r < 0.08) {
      const fresh = newUser();
      active.push(fresh);
      // Keep the population bounded, as users come and go.
      if (active.length > Math.max(2_000, options.users?.length ?? 0)) active.shift();
      return authSuccess(fresh, null);
    }
    if (r < 0.1) {
      // Same account, same reference_id, same provider: Terra issues a new user_id and says so.
      const renewed = { ...user, user_id: id('user') };
      active[i] = renewed;
      return userReauth({ ...user, active: false }, renewed);
    }
    if (r < 0.12) return connectionError(user);
    if (r < 0.135) return legacyAuthFailure(failedFlow(id('user'), user.provider, user.reference_id));
    if (r < 0.145) return authCancelled(failedFlow(id('user'), user.provider, user.reference_id));
    if (r < 0.17)
      return permissionChange({ ...user, scopes: `${DEFAULT_SCOPES},BODY_EXPORT` }, 'BODY_EXPORT', '');
    if (r < 0.175) return healthcheck(new Date(at), 120);
    if (r < 0.18) {
      active.splice(i, 1);
      return r < 0.1775 ? deauth({ ...user, active: false }) : accessRevoked(user);
    }
    const type = pick(MIX_DATA_TYPES);
    return dataEventWith(
      type,
      { ...user, last_webhook_update: new Date(at).toISOString() },
      data.get(type) ?? [],
    );
  };

  // No duplicate before 80 originals exist; later ones a little more often, so the total share holds.
  const late = Math.min(0.5, (rate * options.count) / Math.max(1, options.count - 90));
  for (let n = 0; n < options.count; n++) {
    if (originals >= 80 && random() < late) {
      const earlier = recent[Math.floor(64 + random() * (Math.min(recent.length, 256) - 64))];
      if (earlier) {
        yield { ...earlier, duplicate: true };
        continue;
      }
    }
    const payload = next();
    at += 1 + Math.floor(random() * 50);
    const delivery: MixDelivery = {
      type: payload.type,
      trace_id: id('trace'),
      at,
      body: JSON.stringify(payload),
      duplicate: false,
    };
    recent.unshift(delivery);
    if (recent.length > 256) recent.pop();
    originals++;
    yield delivery;
  }
}

export const mixOf = (options: MixOptions): MixDelivery[] => [...terraMix(options)];

const DATA = new Set<string>(MIX_DATA_TYPES);

/** The bucket a delivery is counted in: data events together, duplicates apart, legacy auth failures apart. */
export function kindOf(delivery: Pick<MixDelivery, 'type' | 'body' | 'duplicate'>): string {
  if (delivery.duplicate) return 'duplicate';
  if (DATA.has(delivery.type)) return 'data';
  if (delivery.type === 'auth' && delivery.body.includes('"status":"error"')) return 'auth (error)';
  return delivery.type;
}

/** "data 73.6%, duplicate 10.1%, …; data events 9.8 KB on average". */
export function describeMix(stream: readonly MixDelivery[]): string {
  const counts = new Map<string, number>();
  for (const delivery of stream) counts.set(kindOf(delivery), (counts.get(kindOf(delivery)) ?? 0) + 1);
  const sizes = stream.filter((d) => DATA.has(d.type)).map((d) => d.body.length);
  const kb = sizes.length ? Math.round(sizes.reduce((a, b) => a + b, 0) / sizes.length / 100) / 10 : 0;
  const parts = [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([key, n]) => `${key} ${Math.round((n / stream.length) * 1000) / 10}%`);
  return `${parts.join(', ')}; data events ${kb} KB on average`;
}

/** The headers Terra sends with one attempt of a delivery, signed now (a fresh signature per attempt). */
export function terraHeaders(delivery: Delivery, secret: string, nowMs = Date.now()): Record<string, string> {
  const t = Math.floor(nowMs / 1000);
  return {
    'content-type': 'application/json',
    'terra-signature': `t=${t},v1=${signPayload(secret, t, delivery.body)}`,
    'x-terra-trace-id': delivery.trace_id,
    'x-terra-ordering-timestamp': String(delivery.at),
  };
}

const TERRA_DELIVERY_TIMEOUT_MS = 8_000;

export interface DriveReport {
  sent: number;
  attempts: number;
  failedAttempts: number;
  /** Attempts not answered within Terra's delivery timeout (8 s): Terra would have abandoned them. */
  abandoned: number;
  /** Deliveries that still had no 2xx when the driver gave up. */
  lost: number;
  /** Every attempt's answer by HTTP status, or `network` / `timeout`. */
  statuses: Record<string, number>;
  /** The first attempt's answer of each delivery, likewise. */
  firstAttempt: Record<string, number>;
}

/**
 * Sends every delivery with `concurrency` workers, as Terra does: each attempt freshly signed, any
 * non-2xx or network error retried after a short backoff, until a 2xx or `maxAttempts`.
 */
export async function deliverLikeTerra(options: {
  webhookUrl: string;
  secret: string;
  deliveries: readonly Delivery[];
  concurrency: number;
  maxAttempts?: number;
  retryDelayMs?: number;
  /** Called once when `progress` (0..1) of the deliveries have been sent. */
  at?: { progress: number; run: () => Promise<void> };
}): Promise<DriveReport> {
  const report: DriveReport = {
    sent: 0,
    attempts: 0,
    failedAttempts: 0,
    abandoned: 0,
    lost: 0,
    statuses: {},
    firstAttempt: {},
  };
  const queue = [...options.deliveries];
  const threshold = Math.floor(queue.length * (options.at?.progress ?? 2));
  let hook: Promise<void> | undefined;
  const count = (into: Record<string, number>, key: string) => {
    into[key] = (into[key] ?? 0) + 1;
  };
  const attempt = async (delivery: Delivery, first: boolean): Promise<boolean> => {
    report.attempts++;
    let answer = 'network';
    try {
      const response = await fetch(options.webhookUrl, {
        method: 'POST',
        headers: terraHeaders(delivery, options.secret),
        body: delivery.body,
        // Terra's own delivery timeout: an answer later than this is one Terra never sees.
        signal: AbortSignal.timeout(TERRA_DELIVERY_TIMEOUT_MS),
      });
      await response.arrayBuffer();
      answer = String(response.status);
      if (response.ok) {
        count(report.statuses, answer);
        if (first) count(report.firstAttempt, answer);
        return true;
      }
    } catch (error) {
      // A network error is a failed attempt like any other; a timeout is one Terra gave up on.
      if (error instanceof Error && error.name === 'TimeoutError') {
        report.abandoned++;
        answer = 'timeout';
      }
    }
    count(report.statuses, answer);
    if (first) count(report.firstAttempt, answer);
    report.failedAttempts++;
    return false;
  };
  const worker = async () => {
    for (;;) {
      const delivery = queue.shift();
      if (!delivery) return;
      report.sent++;
      if (report.sent === threshold && options.at) hook = options.at.run();
      let delivered = false;
      for (let i = 0; i < (options.maxAttempts ?? 60) && !delivered; i++) {
        delivered = await attempt(delivery, i === 0);
        if (!delivered) await new Promise((resolve) => setTimeout(resolve, options.retryDelayMs ?? 500));
      }
      if (!delivered) report.lost++;
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  await hook;
  return report;
}

export interface ReferenceCheck {
  /** Terra users the model expects a record for that the table does not have. */
  missing: string[];
  /** Records that differ from the model's. */
  wrong: string[];
  /** Inbox items neither processed nor ignored. */
  inboxNotDone: number;
  inboxItems: number;
  /** Distinct deliveries of the stream with no inbox item. */
  unrecorded: string[];
}

const canonical = (connection: Connection) =>
  JSON.stringify(Object.fromEntries(Object.entries(connection).sort(([a], [b]) => a.localeCompare(b))));

async function scanAll(
  doc: DynamoDBDocumentClient,
  table: string,
  each: (item: Record<string, unknown>) => void,
): Promise<void> {
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page: ScanCommandOutput = await doc.send(new ScanCommand({ TableName: table, ExclusiveStartKey }));
    for (const item of page.Items ?? []) each(item);
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
}

/**
 * Compares the tables with what the stream should have left: records missing or different from the
 * model's, inbox items not closed, distinct deliveries never recorded. The first few inbox items not
 * closed are printed to stderr, for the one debugging a failure.
 */
export async function checkAgainstReference(
  doc: DynamoDBDocumentClient,
  connectionsTable: string,
  inboxTable: string,
  stream: Pick<Stream, 'deliveries' | 'expected'>,
): Promise<ReferenceCheck> {
  const records = new Map<string, ConnectionRecord>();
  await scanAll(doc, connectionsTable, (item) => {
    records.set(String(item.user_id), item as unknown as ConnectionRecord);
  });
  const missing: string[] = [];
  const wrong: string[] = [];
  for (const [user_id, want] of stream.expected) {
    const record = records.get(user_id);
    if (!record) missing.push(user_id);
    else if (canonical(toConnection(record)) !== canonical(want)) wrong.push(user_id);
  }
  let inboxNotDone = 0;
  let inboxItems = 0;
  const recorded = new Set<string>();
  await scanAll(doc, inboxTable, (item) => {
    // Owner guards, data requests, parked lists: our own reserved items, not deliveries.
    if (String(item.event_id).includes('#')) return;
    inboxItems++;
    recorded.add(String(item.event_id));
    if (item.status !== 'processed' && item.status !== 'ignored') {
      inboxNotDone++;
      if (inboxNotDone <= 20) process.stderr.write(`inbox item not done: ${JSON.stringify(item)}\n`);
    }
  });
  const unrecorded = [...new Set(stream.deliveries.map((d) => d.trace_id))].filter((id) => !recorded.has(id));
  return { missing, wrong, inboxNotDone, inboxItems, unrecorded };
}
