import { prng } from '../test/helpers/delivery-stream.ts';
import {
  accessRevoked,
  authCancelled,
  authSuccess,
  connectionError,
  type DataEventType,
  dataEvent,
  deauth,
  healthcheck,
  legacyAuthError,
  permissionChange,
  type TerraUserPayload,
  terraUser,
  userReauth,
} from '../test/helpers/terra-fixtures.ts';

/**
 * A realistic stream of Terra deliveries for the throughput, HTTP and memory phases: users connect
 * (auth), send data (~10 KB each), change permissions, hit errors, reauthenticate, leave; about one
 * delivery in ten is a duplicate of an earlier one (same trace id and body, signed again), as Terra's
 * at-least-once delivery produces. Deterministic for a seed, so runs compare.
 */
export interface BenchDelivery {
  type: string;
  trace_id: string;
  /** x-terra-ordering-timestamp, ms. */
  at: number;
  body: string;
  duplicate: boolean;
}

const PROVIDERS = ['GARMIN', 'OURA', 'FITBIT', 'WHOOP', 'POLAR'];
const DATA_TYPES: DataEventType[] = ['activity', 'daily', 'sleep', 'body', 'activity', 'daily'];

/** Heart-rate samples until the payload is about `bytes` long, as Terra's detailed data events are. */
function detailedData(type: DataEventType, bytes: number, start: number): Record<string, unknown>[] {
  const samples: Array<{ timestamp: string; bpm: number }> = [];
  let size = 0;
  for (let i = 0; size < bytes - 900; i++) {
    const sample = { timestamp: new Date(start + i * 60_000).toISOString(), bpm: 55 + ((i * 7) % 60) };
    samples.push(sample);
    size += JSON.stringify(sample).length + 1;
  }
  const base = dataEvent(type).data?.[0] ?? {};
  return [{ ...base, heart_rate_data: { detailed: { hr_samples: samples } } }];
}

export interface MixOptions {
  count: number;
  seed: number;
  /** Share of deliveries that repeat an earlier one. */
  duplicateRate?: number;
  dataBytes?: number;
  /** Prefix for ids, so several streams can share one table without colliding. */
  prefix?: string;
  /** Users connected before the stream starts (their auth deliveries already went through). */
  users?: readonly TerraUserPayload[];
}

/** A population of connected users, and the auth deliveries that connect them. */
export function population(
  count: number,
  prefix: string,
): { users: TerraUserPayload[]; auths: BenchDelivery[] } {
  const users = Array.from({ length: count }, (_, i) =>
    terraUser({
      user_id: `${prefix}-user-${i}`,
      reference_id: `app-user-${prefix}-${i}`,
      provider: PROVIDERS[i % PROVIDERS.length],
      last_webhook_update: null,
    }),
  );
  const at = Date.now() - 7_200_000;
  const auths = users.map((user, i) => ({
    type: 'auth',
    trace_id: `${prefix}-auth-${i}`,
    at: at + i,
    body: JSON.stringify(authSuccess({ user })),
    duplicate: false,
  }));
  return { users, auths };
}

/**
 * Yields `count` deliveries one at a time (the memory phase must not hold 10,000 bodies at once).
 * Duplicates arrive well after their original, 64 to 256 deliveries later: a redelivery, not a
 * concurrent copy (the receiver's in-progress wait is a test subject, not a throughput one).
 */
export function* deliveryStream(options: MixOptions): Generator<BenchDelivery> {
  const random = prng(options.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const prefix = options.prefix ?? `s${options.seed}`;
  const rate = options.duplicateRate ?? 0.1;
  let ids = 0;
  const id = (kind: string) => `${prefix}-${kind}-${(ids++).toString(36)}`;
  const dataBytes = options.dataBytes ?? 10_000;
  const payloads = new Map(
    DATA_TYPES.map((type) => [type, detailedData(type, dataBytes, Date.UTC(2026, 6, 1))]),
  );
  let at = Date.now() - 3_600_000;
  const recent: BenchDelivery[] = [];
  let originals = 0;
  const active: TerraUserPayload[] = [...(options.users ?? [])];
  const newUser = () =>
    terraUser({
      user_id: id('user'),
      reference_id: `app-user-${id('ref')}`,
      provider: pick(PROVIDERS),
      last_webhook_update: null,
    });

  const next = (): { type: string } => {
    const r = random();
    const i = Math.floor(random() * active.length);
    const user = active[i];
    if (!user || active.length < 8 || r < 0.08) {
      const fresh = newUser();
      active.push(fresh);
      // Keep the population bounded, as users come and go.
      if (active.length > Math.max(2_000, options.users?.length ?? 0)) active.shift();
      return authSuccess({ user: fresh });
    }
    if (r < 0.1) {
      // Same account, same reference_id, same provider: Terra issues a new user_id and says so.
      const renewed = { ...user, user_id: id('user') };
      active[i] = renewed;
      return userReauth({ new_user: renewed, old_user: { ...user, active: false } });
    }
    if (r < 0.12) return connectionError({ user });
    if (r < 0.135) {
      return legacyAuthError({ user: { ...newUser(), active: false }, reference_id: user.reference_id });
    }
    if (r < 0.145) return authCancelled({ reference_id: user.reference_id });
    if (r < 0.17)
      return permissionChange({ user: { ...user, scopes: 'ACTIVITY_EXPORT,HEALTH_EXPORT,BODY_EXPORT' } });
    if (r < 0.175) return healthcheck();
    if (r < 0.18) {
      active.splice(i, 1);
      return r < 0.1775 ? deauth({ user: { ...user, active: false } }) : accessRevoked({ user });
    }
    const type = pick(DATA_TYPES);
    return dataEvent(type, {
      user: { ...user, last_webhook_update: new Date(at).toISOString() },
      data: payloads.get(type) ?? [],
    });
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
    const delivery = {
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

export const deliveryMix = (options: MixOptions): BenchDelivery[] => [...deliveryStream(options)];

/** The bucket a delivery is counted in: data events together, legacy auth failures apart. */
export function kindOf(delivery: Pick<BenchDelivery, 'type' | 'body' | 'duplicate'>): string {
  if (delivery.duplicate) return 'duplicate';
  if (DATA_TYPES.includes(delivery.type as DataEventType)) return 'data';
  if (delivery.type === 'auth' && delivery.body.includes('"status":"error"')) return 'auth (error)';
  return delivery.type;
}

export function describeMix(stream: readonly BenchDelivery[]): string {
  const counts = new Map<string, number>();
  for (const d of stream) {
    const key = kindOf(d);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const sizes = stream.filter((d) => DATA_TYPES.includes(d.type as DataEventType)).map((d) => d.body.length);
  const avg = sizes.length ? Math.round(sizes.reduce((a, b) => a + b, 0) / sizes.length / 100) / 10 : 0;
  const parts = [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([key, n]) => `${key} ${Math.round((n / stream.length) * 1000) / 10}%`);
  return `${parts.join(', ')}; data events ${avg} KB on average`;
}
