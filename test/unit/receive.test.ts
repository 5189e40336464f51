import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ConnectionEvent } from '#shared/connections/model';
import { signPayload } from '#shared/terra/signature';
import type { Fetched } from '#shared/webhooks/payloads';
import type { DeliveryFacts, DeliveryStatus } from '#shared/webhooks/ports';
import { type Delivery, receiveWebhook, type WebhookDeps } from '#shared/webhooks/receive';
import {
  MemoryArchive,
  MemoryConnections,
  MemoryLedger,
  recordingLog,
  ScriptedFetcher,
} from '../helpers/memory-ports.ts';
import {
  accessRevoked,
  authCancelled,
  authSuccess,
  dataEvent,
  deauth,
  healthcheck,
  informational,
  largeRequestProcessing,
  largeRequestSending,
  PROVIDER,
  REFERENCE_ID,
  s3Payload,
  TERRA_NEW_USER_ID,
  TERRA_USER_ID,
  terraUser,
  userReauth,
  without,
} from '../helpers/terra-fixtures.ts';

/**
 * The receiver pipeline (verify → quarantine stale → parse → archive → record/apply → answer) over
 * in-memory ports: what it answers, and what it wrote, archived and logged. The same pipeline against
 * DynamoDB Local is `test/integration/webhook.test.ts`.
 */

const SECRET = 'whsec_unit';
/** The signature time of every delivery, unless a test says otherwise: 2025-07-01T09:02:33Z. */
const T = 1_751_360_553;
/** Received a quarter of a second after it was signed. */
const NOW = T * 1000 + 250;
const DAY = '2025/07/01';
const TRACE = '5f0c8a2e-6b1d-4c3a-9e7f-0a1b2c3d4e5f';
const BUSY = 'This delivery is being processed; retry later.';

afterEach(() => {
  vi.useRealTimers();
});

function harness(overrides: Partial<WebhookDeps> = {}) {
  const clock = { now: NOW };
  const connections = new MemoryConnections();
  const deliveries = new MemoryLedger(connections, { now: () => clock.now, leaseMs: 15_000 });
  const archive = new MemoryArchive();
  const log = recordingLog();
  const steps: string[] = [];
  const deps: WebhookDeps = {
    signingSecrets: async () => [SECRET],
    toleranceSeconds: 300,
    archive,
    deliveries,
    connections,
    payloads: new ScriptedFetcher({ ok: false, retryable: false, reason: 'not_allowed' }),
    now: () => clock.now,
    log,
    afterStep: (step) => {
      steps.push(step);
    },
    ...overrides,
  };
  const receive = (delivery: Delivery) => receiveWebhook(deps, delivery);
  return { deps, clock, connections, deliveries, archive, log, steps, receive };
}

interface DeliveryOptions {
  raw?: string | Buffer;
  t?: number;
  traceId?: string;
  secret?: string;
  headers?: Record<string, string>;
}

/** A delivery signed the way Terra signs it. */
function signed(payload: unknown, options: DeliveryOptions = {}): Delivery {
  const raw = options.raw ?? JSON.stringify(payload);
  const body = Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
  const t = options.t ?? T;
  const headers: Record<string, string> = {
    'terra-signature': `t=${t},v1=${signPayload(options.secret ?? SECRET, t, body)}`,
  };
  if (options.traceId !== undefined) headers['x-terra-trace-id'] = options.traceId;
  return { headers: { ...headers, ...options.headers }, body };
}

const sha256 = (body: Buffer) => createHash('sha256').update(body).digest('hex');
const hashId = (delivery: Delivery) => `sha256:${sha256(delivery.body)}`;

/** Where a delivery received at NOW is archived: `<prefix>/<day>/<event id>.<body hash>.json`. */
function archivedAt(prefix: string, event_id: string, delivery: Delivery): string {
  return `${prefix}/${DAY}/${encodeURIComponent(event_id)}.${sha256(delivery.body).slice(0, 16)}.json`;
}

/** What the receiver answers Terra with a 200 for a delivery traced as TRACE. */
function answered(outcome: string) {
  return { status: 200, outcome, event_id: TRACE, body: { received: true, outcome, event_id: TRACE } };
}

/** The facts every delivery received at NOW, signed at T, carries. */
function factsOf(delivery: Delivery, extra: Partial<DeliveryFacts> & { type: string; archive_key: string }) {
  return {
    event_id: TRACE,
    bytes: delivery.body.length,
    // What a replay later holds the archived bytes to.
    body_sha256: sha256(delivery.body),
    received_at: NOW,
    at: T * 1000,
    signed_at: T,
    ...extra,
  };
}

const user = terraUser();
const exampleSubject = { user_id: TERRA_USER_ID, reference_id: REFERENCE_ID, provider: PROVIDER };

describe('the signature', () => {
  it('answers 401 to a delivery signed with another secret, writing and archiving nothing', async () => {
    const h = harness();
    const result = await h.receive(signed(authSuccess(), { secret: 'someone-else', traceId: TRACE }));
    expect(result).toStrictEqual({
      status: 401,
      outcome: 'rejected',
      body: { error: { code: 'rejected', message: 'Invalid webhook signature (mismatch).' } },
    });
    expect(h.archive.keys()).toEqual([]);
    expect(h.deliveries.calls).toEqual([]);
    expect(h.connections.calls).toEqual([]);
    expect(h.log.entries).toStrictEqual([
      { level: 'warn', message: 'webhook rejected', attributes: { outcome: 'rejected', reason: 'mismatch' } },
    ]);
  });

  it('answers 401 (missing) to a delivery without a signature header', async () => {
    const h = harness();
    const { body } = signed(authSuccess());
    const result = await h.receive({ headers: {}, body });
    expect(result).toMatchObject({ status: 401, outcome: 'rejected' });
    expect(result.body).toStrictEqual({
      error: { code: 'rejected', message: 'Invalid webhook signature (missing).' },
    });
    expect(h.deliveries.calls).toEqual([]);
  });

  it('reads the signature from x-terra-signature when terra-signature is absent', async () => {
    const h = harness();
    const delivery = signed(deauth(), { traceId: TRACE });
    const { 'terra-signature': signature = '', ...rest } = delivery.headers;
    const result = await h.receive({
      headers: { ...rest, 'x-terra-signature': signature },
      body: delivery.body,
    });
    expect(result).toMatchObject({ status: 200, outcome: 'processed' });
  });

  it('goes by terra-signature when both headers are present', async () => {
    const h = harness();
    const delivery = signed(deauth(), {
      traceId: TRACE,
      headers: { 'x-terra-signature': `t=${T},v1=${'0'.repeat(64)}` },
    });
    expect(await h.receive(delivery)).toMatchObject({ status: 200, outcome: 'processed' });
  });

  it('verifies against every configured secret, as during a rotation', async () => {
    const h = harness({ signingSecrets: async () => ['whsec_next', SECRET] });
    expect(await h.receive(signed(deauth(), { traceId: TRACE }))).toMatchObject({ outcome: 'processed' });
  });

  it('answers 500 when the signing secret cannot be read, asking nothing else', async () => {
    class SecretUnavailable extends Error {
      override name = 'SecretUnavailable';
    }
    const h = harness({ signingSecrets: () => Promise.reject(new SecretUnavailable('throttled')) });
    const result = await h.receive(signed(authSuccess(), { traceId: TRACE }));
    expect(result).toStrictEqual({
      status: 500,
      outcome: 'error',
      body: {
        error: { code: 'error', message: 'The signing secret could not be read; Terra will retry.' },
      },
    });
    expect(h.archive.keys()).toEqual([]);
    expect(h.deliveries.calls).toEqual([]);
    expect(h.log.entries).toStrictEqual([
      {
        level: 'error',
        message: 'webhook signing secret unavailable',
        attributes: { outcome: 'error', error: 'SecretUnavailable' },
      },
    ]);
  });

  it('compares the signature time with the receive time in whole seconds', async () => {
    // Received 999 ms into the second it was signed in: no time has passed for a zero tolerance.
    const h = harness({ toleranceSeconds: 0 });
    h.clock.now = T * 1000 + 999;
    expect(await h.receive(signed(deauth(), { traceId: TRACE }))).toMatchObject({ outcome: 'processed' });
  });

  it('uses the configured tolerance', async () => {
    const h = harness({ toleranceSeconds: 60 });
    expect(await h.receive(signed(deauth(), { t: T - 60, traceId: TRACE }))).toMatchObject({
      outcome: 'processed',
    });
    expect(await h.receive(signed(accessRevoked(), { t: T - 61 }))).toMatchObject({
      status: 401,
      outcome: 'stale',
    });
  });

  it('takes a replayed delivery as verified, keeping the signature time it was archived with', async () => {
    const h = harness({ signingSecrets: () => Promise.reject(new Error('must not be asked')) });
    const signedAt = T - 86_400;
    const body = Buffer.from(JSON.stringify(deauth()));
    const result = await h.receive({
      headers: { 'x-terra-trace-id': TRACE },
      body,
      replay: { signed_at: signedAt },
    });
    expect(result).toMatchObject({ status: 200, outcome: 'processed', event_id: TRACE });
    expect(h.deliveries.entries.get(TRACE)?.facts).toMatchObject({
      signed_at: signedAt,
      at: signedAt * 1000,
      // Recorded as replayed, when: `ops deliveries` shows it.
      replayed_at: new Date(NOW).toISOString(),
    });
    expect(h.connections.records.get(TERRA_USER_ID)).toMatchObject({ status: 'disconnected' });
  });
});

describe('event ids and references', () => {
  it('names the delivery by its trace id, trimmed', async () => {
    const h = harness();
    const result = await h.receive(signed(deauth(), { traceId: ` ${TRACE} ` }));
    expect(result).toStrictEqual(answered('processed'));
  });

  it.each([
    ['absent', undefined],
    ['blank', '   '],
    ['not a trace id', 'reconcile#checkpoint'],
  ])('names the delivery by its body hash when the trace id is %s', async (_, traceId) => {
    const h = harness();
    const delivery = signed(deauth(), traceId === undefined ? {} : { traceId });
    const result = await h.receive(delivery);
    expect(result).toMatchObject({ outcome: 'processed', event_id: hashId(delivery) });
    expect(h.deliveries.entries.has(hashId(delivery))).toBe(true);
  });

  it("keeps Terra's terra-reference header on the delivery, trimmed", async () => {
    const h = harness();
    await h.receive(signed(deauth(), { traceId: TRACE, headers: { 'terra-reference': ' req-42:chunk:1 ' } }));
    expect(h.deliveries.entries.get(TRACE)?.facts.terra_reference).toBe('req-42:chunk:1');
  });

  it.each([
    ['absent', {}],
    ['blank', { 'terra-reference': '  ' }],
    ['not a reference', { 'terra-reference': 'deletion#user' }],
  ])('records no terra_reference when the header is %s', async (_, headers) => {
    const h = harness();
    await h.receive(signed(deauth(), { traceId: TRACE, headers }));
    expect(h.deliveries.entries.get(TRACE)?.facts).not.toHaveProperty('terra_reference');
  });
});

describe('the ordering time', () => {
  it('orders the events by x-terra-ordering-timestamp when Terra sends one', async () => {
    const h = harness();
    const ordering = '2025-06-30T08:00:00.000Z';
    await h.receive(
      signed(deauth(), { traceId: TRACE, headers: { 'x-terra-ordering-timestamp': ordering } }),
    );
    expect(h.deliveries.entries.get(TRACE)?.facts.at).toBe(Date.parse(ordering));
    expect(h.connections.records.get(TERRA_USER_ID)).toMatchObject({ created_at: ordering });
  });

  it.each([
    ['absent', {}],
    ['unreadable', { 'x-terra-ordering-timestamp': 'soon' }],
  ])('orders them by the signature time when the header is %s', async (_, headers) => {
    const h = harness();
    await h.receive(signed(deauth(), { traceId: TRACE, t: T - 5, headers }));
    expect(h.deliveries.entries.get(TRACE)?.facts.at).toBe((T - 5) * 1000);
    expect(h.connections.records.get(TERRA_USER_ID)?.created_at).toBe(new Date((T - 5) * 1000).toISOString());
  });
});

describe('connection events', () => {
  it('archives the raw body under its user, then applies it and closes the delivery under a lease', async () => {
    const h = harness();
    const delivery = signed(authSuccess(), { traceId: TRACE });
    const result = await h.receive(delivery);

    expect(result).toMatchObject({ status: 200, outcome: 'processed', event_id: TRACE });
    const key = archivedAt(`users/${TERRA_USER_ID}`, TRACE, delivery);
    expect(h.archive.keys()).toEqual([key]);
    expect(h.archive.objects.get(key)).toEqual(delivery.body);
    expect(h.deliveries.entries.get(TRACE)).toStrictEqual({
      facts: factsOf(delivery, { type: 'auth', archive_key: key, ...exampleSubject }),
      status: 'processed',
      outcome: 'applied',
      attempts: 1,
    });
    expect(h.deliveries.calls).toEqual([`claim:${TRACE}`, `applyAndClose:${TRACE}`]);
    expect(h.steps).toEqual(['archive', 'claim']);
    expect(h.connections.records.get(TERRA_USER_ID)).toMatchObject({
      status: 'active',
      reference_id: REFERENCE_ID,
      provider: PROVIDER,
      scopes: ['ACTIVITY_EXPORT', 'HEALTH_EXPORT'],
    });
    expect(h.log.entries).toStrictEqual([
      {
        level: 'info',
        message: 'webhook',
        attributes: {
          event_id: TRACE,
          outcome: 'processed',
          type: 'auth',
          user_id: TERRA_USER_ID,
          duration_ms: 0,
          users: [TERRA_USER_ID],
        },
      },
    ]);
  });

  it('runs without a step hook, as production wires it', async () => {
    const h = harness({ afterStep: undefined });
    expect(await h.receive(signed(deauth(), { traceId: TRACE }))).toMatchObject({ outcome: 'processed' });
    expect(h.connections.records.get(TERRA_USER_ID)?.status).toBe('disconnected');
  });

  it('logs how long the delivery took', async () => {
    const h = harness();
    h.deps.now = () => {
      const now = h.clock.now;
      h.clock.now += 7;
      return now;
    };
    await h.receive(signed(deauth(), { traceId: TRACE }));
    expect(h.log.entries.at(-1)?.attributes.duration_ms).toBeGreaterThan(0);
  });

  it('answers a second copy of a processed delivery as a duplicate, applying nothing again', async () => {
    const h = harness();
    await h.receive(signed(authSuccess(), { traceId: TRACE }));
    const record = structuredClone(h.connections.records.get(TERRA_USER_ID));
    h.clock.now += 1_000;
    const result = await h.receive(signed(authSuccess(), { traceId: TRACE }));
    expect(result).toStrictEqual(answered('duplicate'));
    expect(h.deliveries.calls.filter((call) => call.startsWith('applyAndClose'))).toHaveLength(1);
    expect(h.connections.records.get(TERRA_USER_ID)).toEqual(record);
    expect(h.log.entries.at(-1)).toMatchObject({
      message: 'webhook',
      attributes: { outcome: 'duplicate', previous: 'processed', event_id: TRACE },
    });
  });

  it('waits for a copy being applied right now and answers its verdict as a duplicate', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    const h = harness();
    const delivery = signed(deauth(), { traceId: TRACE });
    // Another attempt holds the lease; it closes the delivery while this one polls for the third time.
    await h.deliveries.claim({ ...factsOf(delivery, { type: 'deauth', archive_key: 'x' }) });
    const status = h.deliveries.status.bind(h.deliveries);
    let polls = 0;
    h.deliveries.status = async (event_id) => {
      polls++;
      if (polls === 3) {
        const entry = h.deliveries.entries.get(event_id);
        if (entry) entry.status = 'processed';
      }
      return status(event_id);
    };
    const pending = h.receive(delivery);
    await vi.runAllTimersAsync();
    expect(await pending).toMatchObject({ status: 200, outcome: 'duplicate', event_id: TRACE });
    expect(polls).toBe(3);
    expect(h.connections.calls.filter((call) => call.startsWith('apply'))).toEqual([]);
  });

  it.each<[string, DeliveryStatus | undefined]>([
    ['still received', 'received'],
    ['not found', undefined],
  ])('keeps polling while the concurrent copy is %s, then answers 503', async (_, seen) => {
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    const h = harness();
    let polls = 0;
    h.deliveries.claim = async () => ({ kind: 'in_progress' });
    h.deliveries.status = async () => {
      polls++;
      return seen;
    };
    const pending = h.receive(signed(deauth(), { traceId: TRACE }));
    await vi.runAllTimersAsync();
    expect(await pending).toStrictEqual({
      status: 503,
      outcome: 'in_progress',
      event_id: TRACE,
      body: { error: { code: 'in_progress', message: BUSY } },
    });
    // Fifteen polls a tenth of a second apart, then Terra is asked to come back.
    expect(polls).toBe(15);
    expect(h.connections.records.size).toBe(0);
    expect(h.log.entries.at(-1)).toMatchObject({ attributes: { outcome: 'in_progress', event_id: TRACE } });
  });

  it('waits between polls instead of asking the ledger in a tight loop', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    const h = harness();
    let polls = 0;
    h.deliveries.claim = async () => ({ kind: 'in_progress' });
    h.deliveries.status = async () => {
      polls++;
      return 'received';
    };
    const pending = h.receive(signed(deauth(), { traceId: TRACE }));
    await vi.advanceTimersByTimeAsync(350);
    expect(polls).toBe(3);
    await vi.runAllTimersAsync();
    await pending;
  });

  it('takes over a delivery whose lease ran out, and applies it once', async () => {
    const h = harness();
    const delivery = signed(deauth(), { traceId: TRACE });
    await h.deliveries.claim({ ...factsOf(delivery, { type: 'deauth', archive_key: 'x' }) });
    h.clock.now += 15_001;
    const result = await h.receive(delivery);
    expect(result).toMatchObject({ status: 200, outcome: 'processed' });
    expect(h.deliveries.entries.get(TRACE)).toMatchObject({ status: 'processed', attempts: 2 });
    expect(h.connections.records.get(TERRA_USER_ID)?.status).toBe('disconnected');
  });

  it('answers 503 without writing when the lease is taken over before the write', async () => {
    const h = harness();
    h.deps.afterStep = (step) => {
      if (step !== 'claim') return;
      // Stalled past the lease: another attempt has claimed it meanwhile.
      const entry = h.deliveries.entries.get(TRACE);
      if (entry) entry.lease_token = 'someone-else';
    };
    const result = await h.receive(signed(deauth(), { traceId: TRACE }));
    expect(result).toStrictEqual({
      status: 503,
      outcome: 'in_progress',
      event_id: TRACE,
      body: { error: { code: 'in_progress', message: BUSY } },
    });
    expect(h.connections.records.size).toBe(0);
    expect(h.log.entries.at(-1)).toMatchObject({
      attributes: { outcome: 'in_progress', reason: 'lease_lost', event_id: TRACE },
    });
  });

  it('gives the lease back when the write fails, so that the retry need not wait for it', async () => {
    const h = harness();
    const applyAndClose = h.deliveries.applyAndClose.bind(h.deliveries);
    h.deliveries.applyAndClose = () => Promise.reject(new Error('ProvisionedThroughputExceeded'));
    const failed = await h.receive(signed(deauth(), { traceId: TRACE }));
    expect(failed).toStrictEqual({
      status: 500,
      outcome: 'error',
      event_id: TRACE,
      body: { error: { code: 'error', message: 'The delivery could not be stored; Terra will retry it.' } },
    });
    expect(h.deliveries.calls).toContain(`release:${TRACE}`);
    expect(h.log.entries.at(-1)).toStrictEqual({
      level: 'error',
      message: 'webhook failed',
      attributes: {
        event_id: TRACE,
        outcome: 'error',
        error: { name: 'Error', message: 'ProvisionedThroughputExceeded' },
      },
    });

    h.deliveries.applyAndClose = applyAndClose;
    expect(await h.receive(signed(deauth(), { traceId: TRACE }))).toMatchObject({ outcome: 'processed' });
  });

  it('reports the failed write, not a failure to give the lease back', async () => {
    const h = harness();
    h.deliveries.applyAndClose = () => Promise.reject(new Error('write failed'));
    h.deliveries.release = () => Promise.reject(new Error('release failed'));
    expect(await h.receive(signed(deauth(), { traceId: TRACE }))).toMatchObject({ status: 500 });
    expect(h.log.entries.at(-1)?.attributes.error).toStrictEqual({ name: 'Error', message: 'write failed' });
  });

  it('moves both records of a reauth in one write, naming the new user as the subject', async () => {
    const h = harness();
    const delivery = signed(userReauth(), { traceId: TRACE });
    expect(await h.receive(delivery)).toMatchObject({ outcome: 'processed' });
    expect(h.connections.calls).toContain(
      `apply:${TERRA_NEW_USER_ID}/authenticated,${TERRA_USER_ID}/replaced`,
    );
    expect(h.connections.records.get(TERRA_USER_ID)).toMatchObject({
      status: 'replaced',
      replaced_by: TERRA_NEW_USER_ID,
    });
    expect(h.deliveries.entries.get(TRACE)?.facts).toMatchObject({
      user_id: TERRA_NEW_USER_ID,
      archive_key: archivedAt(`users/${TERRA_NEW_USER_ID}`, TRACE, delivery),
    });
  });

  it('applies a reauth to the user that is not deleted, and names that one', async () => {
    const h = harness();
    h.connections.tombstones.add(TERRA_NEW_USER_ID);
    expect(await h.receive(signed(userReauth(), { traceId: TRACE }))).toMatchObject({ outcome: 'processed' });
    expect(h.connections.calls).toContain(`apply:${TERRA_USER_ID}/replaced`);
    expect(h.deliveries.entries.get(TRACE)?.facts.user_id).toBe(TERRA_USER_ID);
  });

  it('records no reference_id or provider the payload does not carry', async () => {
    const h = harness();
    const anonymous = without(terraUser({ reference_id: null }), 'provider');
    await h.receive(signed(deauth({ user: anonymous as typeof user }), { traceId: TRACE }));
    const facts = h.deliveries.entries.get(TRACE)?.facts;
    expect(facts?.user_id).toBe(TERRA_USER_ID);
    expect(facts).not.toHaveProperty('reference_id');
    expect(facts).not.toHaveProperty('provider');
  });

  it('acknowledges events of a deleted user with 200, neither archiving, claiming nor applying them', async () => {
    const h = harness();
    h.connections.tombstones.add(TERRA_USER_ID);
    const result = await h.receive(signed(deauth(), { traceId: TRACE }));
    expect(result).toStrictEqual(answered('deleted_user'));
    expect(h.archive.keys()).toEqual([]);
    expect(h.deliveries.calls).toEqual([]);
    expect(h.connections.calls).toEqual([`owners:${TERRA_USER_ID}`]);
    expect(h.log.entries).toStrictEqual([
      {
        level: 'info',
        message: 'webhook',
        attributes: {
          event_id: TRACE,
          outcome: 'deleted_user',
          type: 'deauth',
          user_id: undefined,
          duration_ms: 0,
        },
      },
    ]);
  });

  it('acknowledges a reauth whose users are both deleted', async () => {
    const h = harness();
    h.connections.tombstones.add(TERRA_USER_ID);
    h.connections.tombstones.add(TERRA_NEW_USER_ID);
    expect(await h.receive(signed(userReauth(), { traceId: TRACE }))).toMatchObject({
      outcome: 'deleted_user',
    });
    expect(h.archive.keys()).toEqual([]);
  });
});

describe('deliveries for a Terra user nobody owns (docs/decisions/0020)', () => {
  const anonymous = terraUser({ reference_id: null });

  it.each([
    ['a data event', () => dataEvent('sleep', { user: anonymous })],
    ['a deauth', () => deauth({ user: anonymous })],
    ['an auth', () => authSuccess({ user: anonymous })],
  ])(
    'park %s that names no app user: 200 parked, archived under unattributed/<user_id>/, no record',
    async (_, build) => {
      const h = harness();
      const result = await h.receive(signed(build(), { traceId: TRACE }));
      expect(result).toStrictEqual(answered('parked'));
      expect(h.connections.records.size).toBe(0);
      expect(h.archive.keys()).toHaveLength(1);
      expect(h.archive.keys()[0]?.startsWith(`unattributed/${TERRA_USER_ID}/`)).toBe(true);
      expect(h.deliveries.entries.get(TRACE)).toMatchObject({ status: 'parked', outcome: 'unattributed' });
      expect(h.deliveries.parked.get(TERRA_USER_ID)?.map((entry) => entry.event_id)).toEqual([TRACE]);
      expect(h.log.entries.at(-1)?.attributes).toMatchObject({ outcome: 'parked' });
    },
  );

  it('creates the record of an unknown Terra user under the app user a data event names (Terra signed it)', async () => {
    const h = harness();
    expect(await h.receive(signed(dataEvent('sleep'), { traceId: TRACE }))).toStrictEqual(
      answered('processed'),
    );
    expect(h.connections.records.get(TERRA_USER_ID)?.reference_id).toBe(REFERENCE_ID);
    expect(h.deliveries.parked.size).toBe(0);
  });

  it('answers 500 when an owner appeared between the look and the park, so that Terra retries the normal way', async () => {
    const h = harness();
    const park = h.deliveries.park.bind(h.deliveries);
    h.deliveries.park = async (facts, events, unowned) => {
      await h.connections.apply([{ ...(events[0] as ConnectionEvent), reference_id: REFERENCE_ID }]);
      return park(facts, events, unowned);
    };
    expect((await h.receive(signed(deauth({ user: anonymous }), { traceId: TRACE }))).status).toBe(500);
    expect(h.deliveries.entries.get(TRACE)).toBeUndefined();
    expect((await h.receive(signed(deauth({ user: anonymous }), { traceId: TRACE }))).outcome).toBe(
      'processed',
    );
  });
});

describe('data events', () => {
  function withRecord(h: ReturnType<typeof harness>, reference_id = REFERENCE_ID) {
    return h.connections.apply([
      {
        user_id: TERRA_USER_ID,
        reference_id,
        provider: PROVIDER,
        event_id: 'evt-auth',
        at: (T - 3600) * 1000,
        change: { kind: 'authenticated' },
      },
    ]);
  }

  it('touch the record and record the delivery, without a lease', async () => {
    const h = harness();
    await withRecord(h);
    const delivery = signed(dataEvent('sleep'), { traceId: TRACE });
    const result = await h.receive(delivery);

    expect(result).toStrictEqual(answered('processed'));
    const iso = new Date(T * 1000).toISOString();
    expect(h.connections.calls.at(-1)).toBe(`touch:${TERRA_USER_ID}:${iso}`);
    expect(h.connections.records.get(TERRA_USER_ID)?.last_webhook_update).toBe(iso);
    const key = archivedAt(`users/${TERRA_USER_ID}`, TRACE, delivery);
    expect(h.archive.keys()).toEqual([key]);
    expect(h.deliveries.calls).toEqual([`record:${TRACE}`]);
    expect(h.deliveries.entries.get(TRACE)).toStrictEqual({
      facts: factsOf(delivery, { type: 'sleep', archive_key: key, ...exampleSubject, data: true }),
      status: 'processed',
      outcome: 'applied',
      attempts: 1,
    });
    expect(h.log.entries.at(-1)).toStrictEqual({
      level: 'info',
      message: 'webhook',
      attributes: {
        event_id: TRACE,
        outcome: 'processed',
        type: 'sleep',
        user_id: TERRA_USER_ID,
        duration_ms: 0,
      },
    });
  });

  it('answer a second copy as a duplicate', async () => {
    const h = harness();
    await withRecord(h);
    await h.receive(signed(dataEvent('sleep'), { traceId: TRACE }));
    const result = await h.receive(signed(dataEvent('sleep'), { traceId: TRACE }));
    expect(result).toMatchObject({ status: 200, outcome: 'duplicate', event_id: TRACE });
    expect(h.log.entries.at(-1)?.attributes.outcome).toBe('duplicate');
  });

  it('are still recorded when older than what the record has seen', async () => {
    const h = harness();
    await withRecord(h);
    await h.receive(signed(dataEvent('sleep'), { traceId: TRACE }));
    const result = await h.receive(signed(dataEvent('daily'), { t: T - 60 }));
    expect(result).toMatchObject({ outcome: 'processed' });
    expect(h.connections.records.get(TERRA_USER_ID)?.last_webhook_update).toBe(
      new Date(T * 1000).toISOString(),
    );
  });

  it('name the app user from the record when the payload does not', async () => {
    const h = harness();
    await withRecord(h);
    await h.receive(
      signed(dataEvent('daily', { user: terraUser({ reference_id: null }) }), { traceId: TRACE }),
    );
    expect(h.deliveries.entries.get(TRACE)?.facts.reference_id).toBe(REFERENCE_ID);
  });

  it("keep the payload's app user over the record's", async () => {
    const h = harness();
    await withRecord(h, 'someone-before');
    await h.receive(signed(dataEvent('daily'), { traceId: TRACE }));
    expect(h.deliveries.entries.get(TRACE)?.facts.reference_id).toBe(REFERENCE_ID);
  });

  it('create the record of a user with none yet', async () => {
    const h = harness();
    const result = await h.receive(signed(dataEvent('activity'), { traceId: TRACE }));
    expect(result).toMatchObject({ outcome: 'processed' });
    expect(h.connections.calls).toContain(`apply:${TERRA_USER_ID}/data`);
    expect(h.connections.records.get(TERRA_USER_ID)).toMatchObject({
      status: 'active',
      last_webhook_update: new Date(T * 1000).toISOString(),
    });
    expect(h.deliveries.entries.get(TRACE)).toMatchObject({ status: 'processed', facts: { data: true } });
  });

  it('leave the reference_id out when neither payload nor record names an app user', async () => {
    const h = harness();
    await h.receive(
      signed(dataEvent('activity', { user: terraUser({ reference_id: null }) }), { traceId: TRACE }),
    );
    expect(h.deliveries.entries.get(TRACE)?.facts).not.toHaveProperty('reference_id');
  });

  it('of a deleted user are acknowledged, neither archived nor recorded', async () => {
    const h = harness();
    h.connections.tombstones.add(TERRA_USER_ID);
    const result = await h.receive(signed(dataEvent('activity'), { traceId: TRACE }));
    expect(result).toMatchObject({ status: 200, outcome: 'deleted_user', event_id: TRACE });
    expect(h.archive.keys()).toEqual([]);
    expect(h.deliveries.calls).toEqual([]);
  });

  it('of a user deleted between the touch and the write are acknowledged, not recorded', async () => {
    const h = harness();
    const touch = h.connections.touch.bind(h.connections);
    h.connections.touch = async (user_id, iso) => {
      const touched = await touch(user_id, iso);
      h.connections.tombstones.add(user_id);
      return touched;
    };
    const result = await h.receive(signed(dataEvent('activity'), { traceId: TRACE }));
    expect(result).toMatchObject({ status: 200, outcome: 'deleted_user' });
    expect(h.deliveries.calls).toEqual([]);
    expect(h.connections.records.size).toBe(0);
  });
});

describe('large requests', () => {
  it('record large_request_sending with its reference and the number of payloads to expect', async () => {
    const h = harness();
    const payload = largeRequestSending();
    const delivery = signed(payload, { traceId: TRACE });
    const result = await h.receive(delivery);
    expect(result).toStrictEqual(answered('processed'));
    const key = archivedAt(`users/${TERRA_USER_ID}`, TRACE, delivery);
    expect(h.deliveries.entries.get(TRACE)).toStrictEqual({
      facts: factsOf(delivery, {
        type: 'large_request_sending',
        archive_key: key,
        ...exampleSubject,
        terra_reference: payload.reference,
        expected_payloads: payload.expected_payloads,
      }),
      status: 'processed',
      outcome: 'tracked',
      attempts: 1,
    });
    expect(h.archive.keys()).toEqual([key]);
    expect(h.connections.records.size).toBe(0);
    expect(h.log.entries.at(-1)).toMatchObject({
      message: 'webhook',
      attributes: { outcome: 'processed', reason: 'tracked', type: 'large_request_sending' },
    });
  });

  it("keep Terra's terra-reference header over the payload's reference", async () => {
    const h = harness();
    const delivery = signed(largeRequestProcessing(), {
      traceId: TRACE,
      headers: { 'terra-reference': 'req-7' },
    });
    await h.receive(delivery);
    const facts = h.deliveries.entries.get(TRACE)?.facts;
    expect(facts?.terra_reference).toBe('req-7');
    expect(facts).not.toHaveProperty('expected_payloads');
  });

  it('record no reference when the payload has none', async () => {
    const h = harness();
    await h.receive(signed(without(largeRequestProcessing(), 'reference'), { traceId: TRACE }));
    expect(h.deliveries.entries.get(TRACE)?.facts).not.toHaveProperty('terra_reference');
  });

  it('answer a second copy as a duplicate', async () => {
    const h = harness();
    await h.receive(signed(largeRequestSending(), { traceId: TRACE }));
    expect(await h.receive(signed(largeRequestSending(), { traceId: TRACE }))).toMatchObject({
      outcome: 'duplicate',
    });
  });

  it('of a deleted user are acknowledged, neither archived nor recorded', async () => {
    const h = harness();
    h.connections.tombstones.add(TERRA_USER_ID);
    expect(await h.receive(signed(largeRequestSending(), { traceId: TRACE }))).toMatchObject({
      status: 200,
      outcome: 'deleted_user',
    });
    expect(h.archive.keys()).toEqual([]);
    expect(h.deliveries.calls).toEqual([]);
  });
});

describe('deliveries that change nothing', () => {
  it('are archived unattributed and recorded as ignored, with the reason', async () => {
    const h = harness();
    const delivery = signed(healthcheck(), { traceId: TRACE });
    const result = await h.receive(delivery);
    expect(result).toStrictEqual(answered('ignored'));
    const key = archivedAt('unattributed', TRACE, delivery);
    expect(h.archive.keys()).toEqual([key]);
    expect(h.deliveries.entries.get(TRACE)).toStrictEqual({
      facts: factsOf(delivery, { type: 'healthcheck', archive_key: key }),
      status: 'ignored',
      outcome: 'informational',
      attempts: 1,
    });
    expect(h.connections.calls).toEqual([]);
    expect(h.log.entries.at(-1)).toMatchObject({
      attributes: { outcome: 'ignored', reason: 'informational', type: 'healthcheck' },
    });
  });

  it('keep the app user an ignored event names', async () => {
    const h = harness();
    await h.receive(signed(authCancelled(), { traceId: TRACE }));
    expect(h.deliveries.entries.get(TRACE)).toMatchObject({
      status: 'ignored',
      outcome: 'auth_cancelled',
      facts: { reference_id: REFERENCE_ID, type: 'auth_cancelled' },
    });
  });

  it('keep one that carries a Terra user under that user, where a deletion finds it', async () => {
    const h = harness();
    const delivery = signed({ ...deauth(), type: 'user_merged' }, { traceId: TRACE });
    expect(await h.receive(delivery)).toMatchObject({ status: 200, outcome: 'ignored' });
    const key = archivedAt(`users/${TERRA_USER_ID}`, TRACE, delivery);
    expect(h.archive.keys()).toEqual([key]);
    expect(h.deliveries.entries.get(TRACE)).toMatchObject({
      status: 'ignored',
      outcome: 'unknown_type',
      facts: { user_id: TERRA_USER_ID, reference_id: REFERENCE_ID, archive_key: key },
    });
    expect(h.connections.records.size).toBe(0);
  });

  it('keep nothing of one that carries a deleted Terra user', async () => {
    const h = harness();
    h.connections.tombstones.add(TERRA_USER_ID);
    const result = await h.receive(signed(informational('rate_limit_hit'), { traceId: TRACE }));
    expect(result).toMatchObject({ status: 200, outcome: 'deleted_user' });
    expect(h.archive.keys()).toEqual([]);
    expect(h.deliveries.entries.size).toBe(0);
  });

  it('keep nothing of one that names only an app user whose deletion finished', async () => {
    const h = harness();
    h.deliveries.deletedReferences.add(REFERENCE_ID);
    const result = await h.receive(signed(authCancelled(), { traceId: TRACE }));
    expect(result).toMatchObject({ status: 200, outcome: 'deleted_user' });
    expect(h.archive.keys()).toEqual([]);
    expect(h.deliveries.entries.size).toBe(0);
  });

  it('answer a copy of a processed delivery that arrives malformed as a duplicate, changing nothing', async () => {
    const h = harness();
    await h.receive(signed(deauth(), { traceId: TRACE }));
    const before = structuredClone(h.deliveries.entries.get(TRACE));
    const result = await h.receive(signed(undefined, { raw: '{"type":', traceId: TRACE }));
    expect(result).toMatchObject({ status: 200, outcome: 'duplicate' });
    expect(h.deliveries.entries.get(TRACE)).toStrictEqual(before);
    expect(h.log.entries.at(-1)).toMatchObject({ attributes: { event_id: TRACE, outcome: 'duplicate' } });
  });

  it('answer a second copy as a duplicate', async () => {
    const h = harness();
    await h.receive(signed(healthcheck(), { traceId: TRACE }));
    expect(await h.receive(signed(healthcheck(), { traceId: TRACE }))).toMatchObject({
      status: 200,
      outcome: 'duplicate',
    });
  });

  it('include valid JSON that is no webhook at all', async () => {
    const h = harness();
    expect(await h.receive(signed([1, 2], { traceId: TRACE }))).toMatchObject({ outcome: 'ignored' });
    expect(h.deliveries.entries.get(TRACE)).toMatchObject({
      outcome: 'unexpected_shape',
      facts: { type: 'unknown' },
    });
  });
});

describe('malformed bodies', () => {
  it('are answered 400, archived unattributed and recorded as failed', async () => {
    const h = harness();
    const delivery = signed(undefined, { raw: '{"type":"auth",', traceId: TRACE });
    const result = await h.receive(delivery);
    expect(result).toStrictEqual({
      status: 400,
      outcome: 'malformed',
      event_id: TRACE,
      body: { error: { code: 'malformed', message: 'The body is not valid JSON.' } },
    });
    const key = archivedAt('unattributed', TRACE, delivery);
    expect(h.archive.keys()).toEqual([key]);
    expect(h.deliveries.entries.get(TRACE)).toStrictEqual({
      facts: factsOf(delivery, { type: 'malformed', archive_key: key }),
      status: 'failed',
      outcome: 'malformed_json',
      attempts: 1,
    });
    expect(h.log.entries.at(-1)).toMatchObject({ attributes: { outcome: 'malformed', type: 'malformed' } });
  });

  it('include JSON whose bytes are not valid UTF-8', async () => {
    const h = harness();
    // {"type":"<0xff>"}: a lenient decoder would read it as a type called U+FFFD.
    const raw = Buffer.concat([Buffer.from('{"type":"'), Buffer.from([0xff]), Buffer.from('"}')]);
    expect(await h.receive(signed(undefined, { raw, traceId: TRACE }))).toMatchObject({
      status: 400,
      outcome: 'malformed',
    });
  });
});

describe('s3_payload', () => {
  const notification = s3Payload();
  const ok = (payload: unknown): Fetched => ({ ok: true, body: Buffer.from(JSON.stringify(payload)) });

  it('downloads the payload, archives it next to the notification and processes it as the event it is', async () => {
    const payload = ok(dataEvent('activity'));
    const fetcher = new ScriptedFetcher(payload);
    const h = harness({ payloads: fetcher });
    const delivery = signed(notification, { traceId: TRACE });
    const result = await h.receive(delivery);

    expect(result).toStrictEqual(answered('processed'));
    expect(fetcher.urls).toEqual([notification.url]);
    const key = archivedAt(`users/${TERRA_USER_ID}`, TRACE, delivery);
    const payloadKey = key.replace(/\.json$/, '.payload.json');
    expect(h.archive.keys()).toEqual([payloadKey, key].sort());
    expect(h.archive.objects.get(key)).toEqual(delivery.body);
    expect(h.archive.objects.get(payloadKey)).toEqual(payload.ok ? payload.body : undefined);
    expect(h.deliveries.entries.get(TRACE)).toStrictEqual({
      facts: factsOf(delivery, {
        type: 'activity',
        archive_key: key,
        payload_key: payloadKey,
        ...(payload.ok ? { payload_sha256: sha256(payload.body) } : {}),
        bytes: payload.ok ? payload.body.length : 0,
        ...exampleSubject,
        data: true,
      }),
      status: 'processed',
      outcome: 'applied',
      attempts: 1,
    });
    expect(h.connections.records.get(TERRA_USER_ID)?.last_webhook_update).toBe(
      new Date(T * 1000).toISOString(),
    );
  });

  it('applies a downloaded connection event under a lease', async () => {
    const h = harness({ payloads: new ScriptedFetcher(ok(deauth())) });
    expect(await h.receive(signed(notification, { traceId: TRACE }))).toMatchObject({ outcome: 'processed' });
    expect(h.deliveries.calls).toEqual([`claim:${TRACE}`, `applyAndClose:${TRACE}`]);
    expect(h.connections.records.get(TERRA_USER_ID)?.status).toBe('disconnected');
    expect(h.deliveries.entries.get(TRACE)?.facts.type).toBe('deauth');
  });

  it('answers 500 to a download a retry can fix, keeping the notification and recording nothing', async () => {
    const h = harness({ payloads: new ScriptedFetcher({ ok: false, retryable: true, reason: 'timeout' }) });
    const delivery = signed(notification, { traceId: TRACE });
    const result = await h.receive(delivery);
    expect(result).toStrictEqual({
      status: 500,
      outcome: 'error',
      event_id: TRACE,
      body: { error: { code: 'error', message: 'The payload could not be downloaded (timeout).' } },
    });
    expect(h.archive.keys()).toEqual([archivedAt('unattributed', TRACE, delivery)]);
    expect(h.deliveries.calls).toEqual([]);
    expect(h.log.entries.at(-1)).toMatchObject({
      attributes: { outcome: 'error', reason: 'timeout', type: 's3_payload', event_id: TRACE },
    });
  });

  it('answers 500 to a payload with no declared length that does not parse: it may have been cut short', async () => {
    const cut: Fetched = { ok: true, body: Buffer.from('{"type":"activity","da'), maybeTruncated: true };
    const h = harness({ payloads: new ScriptedFetcher(cut) });
    const delivery = signed(notification, { traceId: TRACE });
    expect(await h.receive(delivery)).toStrictEqual({
      status: 500,
      outcome: 'error',
      event_id: TRACE,
      body: { error: { code: 'error', message: 'The payload could not be downloaded (truncated).' } },
    });
    // Only the notification is kept: the partial payload is not a payload a replay could use.
    expect(h.archive.keys()).toEqual([archivedAt('unattributed', TRACE, delivery)]);
    expect(h.deliveries.calls).toEqual([]);
  });

  it('processes a payload with no declared length that parses', async () => {
    const whole: Fetched = {
      ok: true,
      body: Buffer.from(JSON.stringify(dataEvent('activity'))),
      maybeTruncated: true,
    };
    const h = harness({ payloads: new ScriptedFetcher(whole) });
    expect(await h.receive(signed(notification, { traceId: TRACE }))).toStrictEqual(answered('processed'));
  });

  it('records a download that can never work as failed and answers 200, so Terra stops retrying', async () => {
    const h = harness({ payloads: new ScriptedFetcher({ ok: false, retryable: false, reason: 'expired' }) });
    const delivery = signed(notification, { traceId: TRACE });
    const result = await h.receive(delivery);
    expect(result).toStrictEqual(answered('payload_failed'));
    const key = archivedAt('unattributed', TRACE, delivery);
    expect(h.archive.keys()).toEqual([key]);
    expect(h.deliveries.entries.get(TRACE)).toStrictEqual({
      facts: factsOf(delivery, { type: 's3_payload', archive_key: key }),
      status: 'failed',
      outcome: 'payload_expired',
      attempts: 1,
    });
    expect(h.log.entries.at(-1)).toMatchObject({
      attributes: { outcome: 'payload_failed', reason: 'expired' },
    });
  });

  it('leaves a processed delivery processed when a late copy finds its payload URL expired', async () => {
    const results: Fetched[] = [
      ok(dataEvent('activity')),
      { ok: false, retryable: false, reason: 'expired' },
    ];
    const h = harness({ payloads: new ScriptedFetcher(() => results.shift() ?? results[0]!) });
    expect(await h.receive(signed(notification, { traceId: TRACE }))).toMatchObject({ outcome: 'processed' });
    const before = structuredClone(h.deliveries.entries.get(TRACE));
    const late = await h.receive(signed(notification, { traceId: TRACE, t: T + 60 }));
    expect(late).toStrictEqual(answered('duplicate'));
    expect(h.deliveries.entries.get(TRACE)).toStrictEqual(before);
    expect(before?.status).toBe('processed');
  });

  it.each([
    ['a data event', dataEvent('activity'), 'activity'],
    ['a connection event', deauth(), 'deauth'],
  ])(
    'lets a copy that downloads %s win over a copy that found the URL expired first',
    async (_, event, type) => {
      const results: Fetched[] = [{ ok: false, retryable: false, reason: 'expired' }, ok(event)];
      const h = harness({ payloads: new ScriptedFetcher(() => results.shift() ?? results[0]!) });
      expect(await h.receive(signed(notification, { traceId: TRACE }))).toMatchObject({
        outcome: 'payload_failed',
      });
      expect(await h.receive(signed(notification, { traceId: TRACE }))).toStrictEqual(answered('processed'));
      expect(h.deliveries.entries.get(TRACE)).toMatchObject({ status: 'processed', facts: { type } });
    },
  );

  it('leaves a processed delivery processed when a late copy downloads a payload that is not JSON', async () => {
    const results: Fetched[] = [ok(dataEvent('sleep')), { ok: true, body: Buffer.from('<Error/>') }];
    const h = harness({ payloads: new ScriptedFetcher(() => results.shift() ?? results[0]!) });
    await h.receive(signed(notification, { traceId: TRACE }));
    const before = structuredClone(h.deliveries.entries.get(TRACE));
    expect(await h.receive(signed(notification, { traceId: TRACE }))).toMatchObject({ outcome: 'duplicate' });
    expect(h.deliveries.entries.get(TRACE)).toStrictEqual(before);
  });

  it('records a second permanent failure of the same delivery over the first, counting the attempt', async () => {
    const h = harness({
      payloads: new ScriptedFetcher({ ok: false, retryable: false, reason: 'forbidden' }),
    });
    await h.receive(signed(notification, { traceId: TRACE }));
    expect(await h.receive(signed(notification, { traceId: TRACE }))).toMatchObject({
      outcome: 'payload_failed',
    });
    expect(h.deliveries.entries.get(TRACE)).toMatchObject({ status: 'failed', attempts: 2 });
  });

  it.each<[string, Buffer]>([
    ['not JSON', Buffer.from('<Error>AccessDenied</Error>')],
    ['another s3_payload', Buffer.from(JSON.stringify(s3Payload()))],
  ])('records a downloaded payload that is %s as failed, keeping both', async (_, body) => {
    const h = harness({ payloads: new ScriptedFetcher({ ok: true, body }) });
    const delivery = signed(notification, { traceId: TRACE });
    const result = await h.receive(delivery);
    expect(result).toMatchObject({ status: 200, outcome: 'payload_failed', event_id: TRACE });
    const key = archivedAt('unattributed', TRACE, delivery);
    const payloadKey = key.replace(/\.json$/, '.payload.json');
    expect(h.archive.keys()).toEqual([payloadKey, key].sort());
    expect(h.archive.objects.get(payloadKey)).toEqual(body);
    expect(h.deliveries.entries.get(TRACE)).toStrictEqual({
      facts: factsOf(delivery, {
        type: 's3_payload',
        archive_key: key,
        payload_key: payloadKey,
        payload_sha256: sha256(body),
        bytes: body.length,
      }),
      status: 'failed',
      outcome: 'payload_malformed',
      attempts: 1,
    });
    expect(h.log.entries.at(-1)).toMatchObject({
      attributes: { outcome: 'payload_failed', reason: 'malformed' },
    });
  });

  it('acknowledges a downloaded payload for a deleted user without recording it', async () => {
    const h = harness({ payloads: new ScriptedFetcher(ok(dataEvent('sleep'))) });
    h.connections.tombstones.add(TERRA_USER_ID);
    expect(await h.receive(signed(notification, { traceId: TRACE }))).toMatchObject({
      status: 200,
      outcome: 'deleted_user',
    });
    expect(h.deliveries.calls).toEqual([]);
  });

  it('stamps the downloaded events with the delivery id and ordering time', async () => {
    const h = harness({ payloads: new ScriptedFetcher(ok(authSuccess())) });
    const ordering = '2025-06-30T08:00:00.000Z';
    await h.receive(
      signed(notification, { traceId: TRACE, headers: { 'x-terra-ordering-timestamp': ordering } }),
    );
    expect(h.connections.records.get(TERRA_USER_ID)).toMatchObject({
      status: 'active',
      created_at: ordering,
      clock: { status: expect.stringContaining(`.${TRACE}`) },
    });
  });
});

describe('stale deliveries', () => {
  const OLD = T - 3600;

  it('quarantine a validly signed delivery outside the window and record it stale, applying nothing', async () => {
    const h = harness();
    const delivery = signed(authSuccess(), { traceId: TRACE, t: OLD });
    const result = await h.receive(delivery);
    expect(result).toStrictEqual({
      status: 401,
      outcome: 'stale',
      event_id: TRACE,
      body: { error: { code: 'stale', message: 'Invalid webhook signature (outside_tolerance).' } },
    });
    const key = archivedAt(`quarantine/${TERRA_USER_ID}`, TRACE, delivery);
    expect(h.archive.keys()).toEqual([key]);
    expect(h.archive.objects.get(key)).toEqual(delivery.body);
    expect(h.deliveries.entries.get(TRACE)).toStrictEqual({
      facts: {
        event_id: TRACE,
        type: 'auth',
        archive_key: key,
        bytes: delivery.body.length,
        // Kept with the record, not only in the file: a replay refuses other bytes.
        body_sha256: sha256(delivery.body),
        received_at: NOW,
        at: OLD * 1000,
        signed_at: OLD,
        ...exampleSubject,
      },
      status: 'stale',
      outcome: 'outside_tolerance',
      attempts: 1,
    });
    expect(h.deliveries.calls).toEqual([`status:${TRACE}`, `recordStale:${TRACE}`]);
    // Only asked whether the user was deleted: nothing is applied.
    expect(h.connections.calls).toEqual([`deleted:${TERRA_USER_ID}`]);
    expect(h.log.entries).toStrictEqual([
      {
        level: 'warn',
        message: 'webhook',
        attributes: { event_id: TRACE, outcome: 'stale', type: 'auth', signed_at: OLD },
      },
    ]);
  });

  it('keep nothing of a deleted user, not even in quarantine', async () => {
    const h = harness();
    h.connections.tombstones.add(TERRA_USER_ID);
    const result = await h.receive(signed(dataEvent('activity'), { traceId: TRACE, t: OLD }));
    expect(result).toMatchObject({ status: 401, outcome: 'stale', event_id: TRACE });
    expect(h.archive.keys()).toEqual([]);
    expect(h.deliveries.entries.get(TRACE)).toBeUndefined();
  });

  it('keep nothing new for a late copy of a delivery already known', async () => {
    const h = harness();
    await h.receive(signed(authSuccess(), { traceId: TRACE }));
    const archived = h.archive.keys();
    const result = await h.receive(signed(authSuccess(), { traceId: TRACE, t: OLD }));
    expect(result).toMatchObject({ status: 401, outcome: 'stale', event_id: TRACE });
    expect(h.archive.keys()).toEqual(archived);
    expect(h.deliveries.calls.filter((call) => call.startsWith('recordStale'))).toEqual([]);
    expect(h.deliveries.entries.get(TRACE)?.status).toBe('processed');
  });

  it('name a stale delivery by its trace id, trimmed', async () => {
    const h = harness();
    expect(await h.receive(signed(authSuccess(), { traceId: ` ${TRACE} `, t: OLD }))).toMatchObject({
      event_id: TRACE,
    });
    expect(h.deliveries.entries.get(TRACE)?.status).toBe('stale');
  });

  it('name a stale delivery by its body hash when it has no trace id', async () => {
    const h = harness();
    const delivery = signed(authSuccess(), { t: OLD });
    expect(await h.receive(delivery)).toMatchObject({ event_id: hashId(delivery) });
    expect(h.deliveries.entries.get(hashId(delivery))?.status).toBe('stale');
  });

  it.each([
    ['a data event', dataEvent('sleep'), 'sleep'],
    ['a large request', largeRequestSending(), 'large_request_sending'],
  ])('quarantine %s under its user', async (_, payload, type) => {
    const h = harness();
    const delivery = signed(payload, { traceId: TRACE, t: OLD });
    await h.receive(delivery);
    expect(h.deliveries.entries.get(TRACE)?.facts).toMatchObject({
      type,
      ...exampleSubject,
      archive_key: archivedAt(`quarantine/${TERRA_USER_ID}`, TRACE, delivery),
    });
  });

  it('quarantine a reauth under its new user', async () => {
    const h = harness();
    const delivery = signed(userReauth(), { traceId: TRACE, t: OLD });
    await h.receive(delivery);
    expect(h.deliveries.entries.get(TRACE)?.facts).toMatchObject({
      user_id: TERRA_NEW_USER_ID,
      archive_key: archivedAt(`quarantine/${TERRA_NEW_USER_ID}`, TRACE, delivery),
    });
  });

  it.each([
    ['an event about no user', JSON.stringify(healthcheck()), 'healthcheck'],
    ['a body that is not JSON', '{"type":', 'malformed'],
  ])('quarantine %s unattributed', async (_, raw, type) => {
    const h = harness();
    const delivery = signed(undefined, { raw, traceId: TRACE, t: OLD });
    expect(await h.receive(delivery)).toMatchObject({ status: 401, outcome: 'stale' });
    const facts = h.deliveries.entries.get(TRACE)?.facts;
    expect(facts).toMatchObject({
      type,
      archive_key: archivedAt('quarantine/_unattributed', TRACE, delivery),
    });
    expect(facts).not.toHaveProperty('user_id');
  });

  it('quarantine an informational event under the Terra user it carries', async () => {
    const h = harness();
    const delivery = signed(informational('rate_limit_hit'), { traceId: TRACE, t: OLD });
    await h.receive(delivery);
    expect(h.deliveries.entries.get(TRACE)?.facts).toMatchObject({
      user_id: TERRA_USER_ID,
      archive_key: archivedAt(`quarantine/${TERRA_USER_ID}`, TRACE, delivery),
    });
  });

  it('quarantine a cancelled login under the app user it names', async () => {
    const h = harness();
    const delivery = signed(authCancelled(), { traceId: TRACE, t: OLD });
    await h.receive(delivery);
    expect(h.deliveries.entries.get(TRACE)?.facts).toMatchObject({
      reference_id: REFERENCE_ID,
      archive_key: archivedAt(`quarantine/_references/${encodeURIComponent(REFERENCE_ID)}`, TRACE, delivery),
    });
  });

  it('keep nothing in quarantine of an app user whose deletion finished', async () => {
    const h = harness();
    h.deliveries.deletedReferences.add(REFERENCE_ID);
    const result = await h.receive(signed(authCancelled(), { traceId: TRACE, t: OLD }));
    expect(result).toMatchObject({ status: 401, outcome: 'stale' });
    expect(h.archive.keys()).toEqual([]);
    expect(h.deliveries.entries.size).toBe(0);
  });

  it('keep the ordering time and terra-reference a stale delivery carries', async () => {
    const h = harness();
    const ordering = '2025-07-01T08:00:00.000Z';
    const headers = { 'x-terra-ordering-timestamp': ordering, 'terra-reference': ' req-9 ' };
    await h.receive(signed(deauth(), { traceId: TRACE, t: OLD, headers }));
    expect(h.deliveries.entries.get(TRACE)?.facts).toMatchObject({
      at: Date.parse(ordering),
      terra_reference: 'req-9',
      signed_at: OLD,
    });
  });

  it('keep no terra-reference that is not one', async () => {
    const h = harness();
    await h.receive(signed(deauth(), { traceId: TRACE, t: OLD, headers: { 'terra-reference': 'a#b' } }));
    expect(h.deliveries.entries.get(TRACE)?.facts).not.toHaveProperty('terra_reference');
  });

  it('answer 500 when the quarantine cannot be written, so Terra tries again', async () => {
    const h = harness();
    h.archive.put = () => Promise.reject(new Error('S3 unavailable'));
    const result = await h.receive(signed(deauth(), { traceId: TRACE, t: OLD }));
    expect(result).toStrictEqual({
      status: 500,
      outcome: 'error',
      body: { error: { code: 'error', message: 'The delivery could not be stored; Terra will retry it.' } },
    });
    expect(h.deliveries.calls).toEqual([`status:${TRACE}`]);
  });
});

describe('failures of our own', () => {
  it('answer 500 when the archive is down, having recorded and applied nothing', async () => {
    const h = harness();
    h.archive.put = () => Promise.reject(new TypeError('S3 unavailable'));
    const result = await h.receive(signed(deauth(), { traceId: TRACE }));
    expect(result).toStrictEqual({
      status: 500,
      outcome: 'error',
      event_id: TRACE,
      body: { error: { code: 'error', message: 'The delivery could not be stored; Terra will retry it.' } },
    });
    expect(h.deliveries.calls).toEqual([]);
    expect(h.connections.records.size).toBe(0);
    expect(h.log.entries.at(-1)).toStrictEqual({
      level: 'error',
      message: 'webhook failed',
      attributes: {
        event_id: TRACE,
        outcome: 'error',
        error: { name: 'TypeError', message: 'S3 unavailable' },
      },
    });
  });

  it('log a failure that is not an Error without its details', async () => {
    const h = harness();
    h.archive.put = () => Promise.reject('socket hang up');
    expect(await h.receive(signed(deauth(), { traceId: TRACE }))).toMatchObject({ status: 500 });
    expect(h.log.entries.at(-1)?.attributes.error).toBe('unknown');
  });

  it('answer 500 when recording the delivery fails', async () => {
    const h = harness();
    h.deliveries.record = () => Promise.reject(new Error('throttled'));
    expect(await h.receive(signed(healthcheck(), { traceId: TRACE }))).toMatchObject({
      status: 500,
      outcome: 'error',
      event_id: TRACE,
    });
  });
});

describe('a data event for a user deleted while it is received', () => {
  // Found by mutation testing: the user had no record at the touch and was deleted before the apply,
  // after the body had been archived under users/<user_id>/; what was archived must go as well.
  it('archives nothing for a user deleted between the touch and the write', async () => {
    const T = 1_751_360_553;
    const connections = new MemoryConnections();
    const archive = new MemoryArchive();
    const touch = connections.touch.bind(connections);
    connections.touch = async (user_id, iso) => {
      const touched = await touch(user_id, iso);
      connections.tombstones.add(user_id);
      return touched;
    };
    const deps: WebhookDeps = {
      signingSecrets: async () => ['whsec_unit'],
      toleranceSeconds: 300,
      archive,
      deliveries: new MemoryLedger(connections, { now: () => T * 1000 }),
      connections,
      payloads: new ScriptedFetcher({ ok: false, retryable: false, reason: 'not_allowed' }),
      now: () => T * 1000,
      log: recordingLog(),
    };
    const body = Buffer.from(JSON.stringify(dataEvent('activity')));
    const headers = { 'terra-signature': `t=${T},v1=${signPayload('whsec_unit', T, body)}` };

    expect(await receiveWebhook(deps, { headers, body })).toMatchObject({ outcome: 'deleted_user' });
    expect(await archive.list(`users/${TERRA_USER_ID}/`)).toEqual([]);
  });
});

describe('SDK-only providers (the device names the app user)', () => {
  const apple = (overrides: Parameters<typeof terraUser>[0] = {}) =>
    terraUser({ provider: 'APPLE', ...overrides });

  it('parks an auth naming an app user who holds no claim, naming no one', async () => {
    const h = harness();
    const result = await h.receive(signed(authSuccess({ user: apple() }), { traceId: TRACE }));
    expect(result).toMatchObject({ status: 200, outcome: 'parked' });
    expect(h.deliveries.calls).toContain(`sdkClaimed:${REFERENCE_ID}`);
    expect(h.deliveries.entries.get(TRACE)?.facts.reference_id).toBeUndefined();
    expect(h.deliveries.parked.get(TERRA_USER_ID)?.[0]?.events[0]?.reference_id).toBeNull();
    expect(h.archive.keys()[0]?.startsWith(`unattributed/${TERRA_USER_ID}/`)).toBe(true);
    expect(h.connections.records.get(TERRA_USER_ID)).toBeUndefined();
  });

  it('applies it under the app user while their claim is live', async () => {
    const h = harness();
    h.deliveries.sdkClaims.add(REFERENCE_ID);
    const result = await h.receive(signed(authSuccess({ user: apple() }), { traceId: TRACE }));
    expect(result).toMatchObject({ status: 200, outcome: 'processed' });
    expect(h.connections.records.get(TERRA_USER_ID)).toMatchObject({
      reference_id: REFERENCE_ID,
      provider: 'APPLE',
      status: 'active',
    });
  });

  it('reads no claim for a web provider, nor for an SDK user that already has an owner', async () => {
    const h = harness();
    await h.receive(signed(authSuccess(), { traceId: TRACE }));
    h.deliveries.sdkClaims.add(REFERENCE_ID);
    const sdkUser = apple({ user_id: TERRA_NEW_USER_ID });
    await h.receive(signed(authSuccess({ user: sdkUser }), { traceId: `${TRACE}-2` }));
    h.deliveries.sdkClaims.clear();
    const calls = h.deliveries.calls.length;
    const later = await h.receive(signed(deauth({ user: sdkUser }), { traceId: `${TRACE}-3`, t: T + 1 }));
    expect(later.outcome).toBe('processed');
    expect(h.deliveries.calls.slice(calls).some((call) => call.startsWith('sdkClaimed'))).toBe(false);
    expect(h.deliveries.calls.filter((call) => call.startsWith('sdkClaimed'))).toHaveLength(1);
    expect(h.connections.records.get(TERRA_NEW_USER_ID)).toMatchObject({ status: 'disconnected' });
  });

  it("lets a reauth of the app user's own SDK connection through without a claim, not someone else's", async () => {
    const h = harness();
    h.deliveries.sdkClaims.add(REFERENCE_ID);
    await h.receive(signed(authSuccess({ user: apple() }), { traceId: TRACE }));
    h.deliveries.sdkClaims.clear();
    const reauth = userReauth({
      new_user: apple({ user_id: TERRA_NEW_USER_ID }),
      old_user: apple({ active: false }),
    });
    expect(await h.receive(signed(reauth, { traceId: `${TRACE}-2`, t: T + 1 }))).toMatchObject({
      outcome: 'processed',
    });
    expect(h.connections.records.get(TERRA_NEW_USER_ID)).toMatchObject({
      reference_id: REFERENCE_ID,
      replaces: TERRA_USER_ID,
    });

    // The same reauth naming another app user: the old connection is not theirs, so nothing vouches.
    const other = harness();
    other.deliveries.sdkClaims.add(REFERENCE_ID);
    await other.receive(signed(authSuccess({ user: apple() }), { traceId: TRACE }));
    other.deliveries.sdkClaims.clear();
    const foreign = userReauth({
      new_user: apple({ user_id: TERRA_NEW_USER_ID, reference_id: 'someone-else' }),
      old_user: apple({ active: false, reference_id: 'someone-else' }),
    });
    expect(await other.receive(signed(foreign, { traceId: `${TRACE}-2`, t: T + 1 }))).toMatchObject({
      outcome: 'parked',
    });
    expect(other.connections.records.get(TERRA_NEW_USER_ID)).toBeUndefined();
  });

  it("parks an SDK user's data naming an app user without a claim, instead of making them its owner", async () => {
    const h = harness();
    const result = await h.receive(signed(dataEvent('activity', { user: apple() }), { traceId: TRACE }));
    expect(result).toMatchObject({ status: 200, outcome: 'parked' });
    expect(h.connections.records.get(TERRA_USER_ID)).toBeUndefined();
    expect(h.deliveries.entries.get(TRACE)?.facts.reference_id).toBeUndefined();
  });
});
