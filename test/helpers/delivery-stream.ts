import { randomUUID } from 'node:crypto';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ScanCommand, type ScanCommandOutput } from '@aws-sdk/lib-dynamodb';
import type { Connection, ConnectionEvent, ConnectionRecord } from '#shared/connections/model';
import { toConnection } from '#shared/connections/model';
import { parseWebhook } from '#shared/terra/events';
import { referenceConnection } from '../property/reference-model.ts';
import { signedHeaders } from './signing.ts';
import {
  accessRevoked,
  authSuccess,
  connectionError,
  dataEvent,
  deauth,
  permissionChange,
  terraUser,
  userReauth,
} from './terra-fixtures.ts';

/**
 * Terra-like traffic for load and fault tests: whole user lifecycles (auth, data, permission changes,
 * errors, reauth chains, deauth), shuffled, partly duplicated, delivered with Terra's habits (a trace
 * id per delivery, a fresh signature per attempt, retries until a 2xx), and a reference model of what
 * the table must hold afterwards.
 */
export interface Delivery {
  trace_id: string;
  /** x-terra-ordering-timestamp, ms. */
  at: number;
  body: string;
}

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

export function generateStream(options: {
  users: number;
  eventsPerUser: number;
  duplicateRate: number;
  seed: number;
  bigPayloadRate?: number;
  /** Chance per event that the user reconnects (user_reauth + auth, a new user_id). */
  reauthRate?: number;
}): Stream {
  const reauthRate = options.reauthRate ?? 0.05;
  const random = prng(options.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const base = Date.now() - 60 * 60 * 1000;
  const deliveries: Delivery[] = [];
  const emit = (payload: unknown, at: number) =>
    deliveries.push({ trace_id: randomUUID(), at, body: JSON.stringify(payload) });
  const padding = 'x'.repeat(10_000);

  let users = 0;
  while (users < options.users) {
    const reference_id = `app-user-${randomUUID().slice(0, 8)}`;
    const provider = pick(PROVIDERS);
    let at = base + Math.floor(random() * 1_000_000);
    let user = terraUser({ user_id: randomUUID(), reference_id, provider });
    users++;
    emit(authSuccess({ user }), at);
    // Data, permission changes and errors; now and then a reauth starts a new user in the chain.
    for (let i = 1; i < options.eventsPerUser; i++) {
      at += 1 + Math.floor(random() * 5_000);
      const roll = random();
      if (roll < 0.7) {
        const event = dataEvent(pick(['activity', 'sleep', 'daily', 'body'] as const), { user });
        emit(random() < (options.bigPayloadRate ?? 0.1) ? { ...event, padding } : event, at);
      } else if (roll < 0.8) {
        user = { ...user, scopes: random() < 0.5 ? 'ACTIVITY_EXPORT' : 'ACTIVITY_EXPORT,SLEEP_EXPORT' };
        emit(permissionChange({ user, scopes_added: 'SLEEP_EXPORT', scopes_removed: '' }), at);
      } else if (roll < 0.88) {
        emit(connectionError({ user }), at);
      } else if (roll < 0.88 + reauthRate && users < options.users) {
        const next = terraUser({ user_id: randomUUID(), reference_id, provider });
        users++;
        emit(userReauth({ old_user: user, new_user: next }), at);
        emit(authSuccess({ user: next }), at + 1);
        at += 1;
        user = next;
      } else if (roll < 0.9 + reauthRate) {
        emit(accessRevoked({ user }), at);
      } else {
        emit(authSuccess({ user }), at);
      }
    }
    if (random() < 0.2) emit(deauth({ user }), at + 10);
  }

  // The reference: every distinct delivery as the domain events it means, folded per user.
  const perUser = new Map<string, ConnectionEvent[]>();
  for (const delivery of deliveries) {
    const parsed = parseWebhook(JSON.parse(delivery.body), { event_id: delivery.trace_id, at: delivery.at });
    const events =
      parsed.kind === 'connection' ? parsed.events : parsed.kind === 'data' ? [parsed.event] : [];
    for (const event of events) perUser.set(event.user_id, [...(perUser.get(event.user_id) ?? []), event]);
  }
  const expected = new Map<string, Connection>();
  for (const [user_id, events] of perUser) {
    const connection = referenceConnection(events);
    if (connection) expected.set(user_id, connection);
  }

  // Terra delivers at least once and in any order: shuffle, and duplicate some, a few side by side.
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

const TERRA_DELIVERY_TIMEOUT_MS = 8_000;

export interface DriveReport {
  sent: number;
  attempts: number;
  failedAttempts: number;
  /** Attempts not answered within Terra's delivery timeout (8 s): Terra would have abandoned them. */
  abandoned: number;
  /** Deliveries that still had no 2xx when the driver gave up. */
  lost: number;
}

/**
 * Sends every delivery with `concurrency` workers, as Terra does: each attempt freshly signed, any
 * non-2xx or network error retried after a short backoff, until a 2xx or `maxAttempts`.
 */
export async function drive(options: {
  webhookUrl: string;
  secret: string;
  deliveries: Delivery[];
  concurrency: number;
  maxAttempts?: number;
  retryDelayMs?: number;
  /** Called once when `progress` (0..1) of the deliveries have been sent. */
  at?: { progress: number; run: () => Promise<void> };
}): Promise<DriveReport> {
  const report: DriveReport = { sent: 0, attempts: 0, failedAttempts: 0, abandoned: 0, lost: 0 };
  const queue = [...options.deliveries];
  const threshold = Math.floor(queue.length * (options.at?.progress ?? 2));
  let hook: Promise<void> | undefined;
  const attempt = async (delivery: Delivery): Promise<boolean> => {
    report.attempts++;
    try {
      const response = await fetch(options.webhookUrl, {
        method: 'POST',
        headers: signedHeaders(delivery.body, {
          secret: options.secret,
          traceId: delivery.trace_id,
          orderingMs: delivery.at,
        }),
        body: delivery.body,
        // Terra's own delivery timeout: an answer later than this is one Terra never sees.
        signal: AbortSignal.timeout(TERRA_DELIVERY_TIMEOUT_MS),
      });
      await response.arrayBuffer();
      if (response.ok) return true;
    } catch (error) {
      // A network error is a failed attempt like any other; a timeout is one Terra gave up on.
      if (error instanceof Error && error.name === 'TimeoutError') report.abandoned++;
    }
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
        delivered = await attempt(delivery);
        if (!delivered) await new Promise((resolve) => setTimeout(resolve, options.retryDelayMs ?? 500));
      }
      if (!delivered) report.lost++;
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  await hook;
  return report;
}

const canonical = (connection: Connection) =>
  JSON.stringify(Object.fromEntries(Object.entries(connection).sort(([a], [b]) => a.localeCompare(b))));

/** Compares the table with the reference model: records missing, and records that differ. */
export async function checkAgainstReference(
  doc: DynamoDBDocumentClient,
  connectionsTable: string,
  inboxTable: string,
  stream: Stream,
): Promise<{ missing: string[]; wrong: string[]; inboxNotDone: number; inboxItems: number }> {
  const records = new Map<string, ConnectionRecord>();
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page: ScanCommandOutput = await doc.send(
      new ScanCommand({ TableName: connectionsTable, ExclusiveStartKey }),
    );
    for (const item of page.Items ?? []) records.set(String(item.user_id), item as ConnectionRecord);
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  const missing: string[] = [];
  const wrong: string[] = [];
  for (const [user_id, want] of stream.expected) {
    const record = records.get(user_id);
    if (!record) missing.push(user_id);
    else if (canonical(toConnection(record)) !== canonical(want)) wrong.push(user_id);
  }
  let inboxNotDone = 0;
  let inboxItems = 0;
  ExclusiveStartKey = undefined;
  do {
    const page: ScanCommandOutput = await doc.send(
      new ScanCommand({ TableName: inboxTable, ExclusiveStartKey }),
    );
    for (const item of page.Items ?? []) {
      inboxItems++;
      if (item.status !== 'processed' && item.status !== 'ignored') {
        inboxNotDone++;
        process.stderr.write(`inbox item not done: ${JSON.stringify(item)}\n`);
      }
    }
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return { missing, wrong, inboxNotDone, inboxItems };
}
