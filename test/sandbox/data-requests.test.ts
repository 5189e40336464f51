import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifySignature } from '#shared/terra/signature';
import { type Harness, json, SECRET, startHarness } from './harness.ts';
import type { Received } from './receiver.ts';

/** Terra's data endpoints (GET /activity, /daily, …): inline answers, webhooks, large requests in chunks. */
const DAY_MS = 24 * 3600_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The UTC date `n` days before today, as Terra's `YYYY-MM-DD`. */
const daysAgo = (n: number) => new Date(Date.now() - n * DAY_MS).toISOString().slice(0, 10);

type Record_ = { metadata: { start_time: string; end_time: string; summary_id?: string } };
type Inline = { user: { user_id: string }; data: Record_[]; type: string };
type Sent = {
  status: string;
  type: string;
  reference: string;
  trace_id: string;
  message?: string;
  user: Record<string, unknown>;
};

const header = (received: Received, name: string) => received.headers[name] as string | undefined;
const dayOf = (record: Record_) => record.metadata.start_time.slice(0, 10);

function verifies(received: Received): boolean {
  return verifySignature({
    header: header(received, 'terra-signature'),
    rawBody: received.raw,
    secrets: [SECRET],
    nowSeconds: Math.floor(Date.now() / 1000),
    toleranceSeconds: 300,
  }).ok;
}

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

/** A fresh harness for tests that count every delivery or change settings. */
async function isolated(options: Parameters<typeof startHarness>[0], run: (own: Harness) => Promise<void>) {
  const own = await startHarness(options);
  try {
    await run(own);
  } finally {
    await own.close();
  }
}

describe('data endpoint parameters', () => {
  it('needs credentials like the other Terra endpoints', async () => {
    const userId = await h.connect('GARMIN');
    const response = await h.terra(`/daily?user_id=${userId}&start_date=${daysAgo(3)}`, { headers: {} });
    expect(response.status).toBe(401);
  });

  it('requires user_id and answers 404 "user not found" for an unknown one', async () => {
    const missing = await h.terra(`/daily?start_date=${daysAgo(3)}`);
    expect(missing.status).toBe(400);
    expect((await json(missing)).detail).toContain('user_id');
    const unknown = await h.terra(
      `/sleep?user_id=3f0c2a1e-0000-4000-8000-000000000000&start_date=${daysAgo(3)}`,
    );
    expect(unknown.status).toBe(404);
    expect(await json(unknown)).toMatchObject({ title: 'not found', detail: 'user not found' });
  });

  it.each([
    ['start_date', 'start_date=', 'start_date'],
    ['start_date', 'start_date=yesterday', 'start_date'],
    ['start_date', 'start_date=2026-02-30', 'start_date'],
    ['start_date', 'start_date=12345', 'start_date'],
    ['end_date', `start_date=${daysAgo(3)}&end_date=2026-1-1`, 'end_date'],
    ['end_date', `start_date=${daysAgo(3)}&end_date=${daysAgo(5)}`, 'end_date'],
    ['to_webhook', `start_date=${daysAgo(3)}&to_webhook=maybe`, 'to_webhook'],
    ['with_samples', `start_date=${daysAgo(3)}&with_samples=lots`, 'with_samples'],
    ['start_date', 'start_date=1990-01-01', 'start_date'],
  ])('answers 400 naming %s for %s', async (_name, query, named) => {
    const userId = await h.connect('GARMIN');
    const response = await h.terra(`/body?user_id=${userId}&${query}`);
    expect(response.status).toBe(400);
    expect(await json(response)).toMatchObject({
      title: 'bad request',
      detail: expect.stringContaining(named),
    });
  });

  it('takes no dates for athlete, and 10-digit unix seconds as well as ISO dates for the rest', async () => {
    const userId = await h.connect('GARMIN');
    expect((await h.terra(`/athlete?user_id=${userId}&to_webhook=false`)).status).toBe(200);
    const start = Math.floor((Date.now() - 3 * DAY_MS) / 1000);
    const end = Math.floor((Date.now() - DAY_MS) / 1000);
    const response = await h.terra(
      `/daily?user_id=${userId}&start_date=${start}&end_date=${end}&to_webhook=false&with_samples=true`,
    );
    expect(response.status).toBe(200);
    // From 3 days ago to 1 day ago (both mid-day): three UTC days touched.
    expect((await json<Inline>(response)).data.map(dayOf)).toEqual([daysAgo(3), daysAgo(2), daysAgo(1)]);
  });
});

describe('to_webhook=false', () => {
  it('answers {user, data, type} inline with one record a day, sending no webhook', async () => {
    await isolated({}, async (own) => {
      const userId = await own.connect('OURA');
      await own.sandbox.idle();
      const response = await own.terra(
        `/sleep?user_id=${userId}&start_date=${daysAgo(7)}&end_date=${daysAgo(1)}&to_webhook=false`,
      );
      expect(response.status).toBe(200);
      const body = await json<Inline>(response);
      expect(body).toMatchObject({ type: 'sleep', user: { user_id: userId, provider: 'OURA' } });
      expect(body.data).toHaveLength(7);
      // A night is dated by the morning it ends.
      expect(body.data.map((record) => record.metadata.end_time.slice(0, 10))).toEqual(
        [7, 6, 5, 4, 3, 2, 1].map(daysAgo),
      );
      await own.sandbox.idle();
      expect(own.receiver.received.map((r) => r.body.type)).toEqual(['auth']);
      // Polled, but nothing went to the webhook.
      const info = await json<{ user: Record<string, unknown> }>(
        await own.terra(`/userInfo?user_id=${userId}`),
      );
      expect(info.user).toMatchObject({ last_webhook_update: null, last_polled_at: expect.any(String) });
    });
  });

  it('answers the same records (same summary_ids) for the same range, and fewer activities than days', async () => {
    const userId = await h.connect('GARMIN');
    const query = `/activity?user_id=${userId}&start_date=${daysAgo(30)}&end_date=${daysAgo(1)}&to_webhook=false`;
    const first = await json<Inline>(await h.terra(query));
    const second = await json<Inline>(await h.terra(query));
    expect(first.data.length).toBeGreaterThan(0);
    expect(first.data.length).toBeLessThan(30);
    expect(second.data).toEqual(first.data);
    const ids = first.data.map((record) => record.metadata.summary_id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(UUID);
  });

  it.each(['daily', 'body', 'nutrition', 'menstruation'])('answers one %s record per day', async (type) => {
    const userId = await h.connect('FITBIT');
    const body = await json<Inline>(
      await h.terra(
        `/${type}?user_id=${userId}&start_date=${daysAgo(4)}&end_date=${daysAgo(2)}&to_webhook=false`,
      ),
    );
    expect(body.type).toBe(type);
    expect(body.data.map(dayOf)).toEqual([daysAgo(4), daysAgo(3), daysAgo(2)]);
  });

  it('answers the athlete profile as {athlete, type, user}', async () => {
    const userId = await h.connect('FITBIT');
    const body = await json(await h.terra(`/athlete?user_id=${userId}&to_webhook=false`));
    expect(body).toEqual({
      athlete: expect.objectContaining({ first_name: expect.any(String), date_of_birth: expect.any(String) }),
      type: 'athlete',
      user: expect.objectContaining({ user_id: userId }),
    });
  });
});

describe('to_webhook (the default)', () => {
  it('answers DataSentToWebhook, then sends one signed event with terra-reference and the trace id', async () => {
    await isolated({}, async (own) => {
      const reference_id = 'data-ref';
      const userId = await own.connect('GARMIN', { reference_id });
      const response = await own.terra(
        `/daily?user_id=${userId}&start_date=${daysAgo(10)}&end_date=${daysAgo(1)}`,
      );
      expect(response.status).toBe(200);
      const sent = await json<Sent>(response);
      expect(sent).toEqual({
        status: 'success',
        type: 'daily',
        reference: expect.stringMatching(UUID),
        trace_id: sent.reference,
        user: {
          user_id: userId,
          provider: 'GARMIN',
          reference_id,
          created_at: expect.any(String),
          active: true,
        },
      });
      await own.sandbox.idle();
      const events = own.receiver.ofType('daily');
      expect(events).toHaveLength(1);
      const [event] = events as [Received];
      expect(verifies(event)).toBe(true);
      expect(header(event, 'terra-reference')).toBe(sent.reference);
      expect(header(event, 'x-terra-trace-id')).toBe(sent.trace_id);
      expect(event.body).toMatchObject({ type: 'daily', version: '2022-03-16', user: { user_id: userId } });
      // The event carries the user as it was before this delivery, as a real data event does.
      expect(event.body.user).toMatchObject({ last_webhook_update: null });
      expect((event.body.data as Record_[]).map(dayOf)).toEqual([10, 9, 8, 7, 6, 5, 4, 3, 2, 1].map(daysAgo));
      expect(own.sandbox.deliveries().find((d) => d.type === 'daily')).toMatchObject({
        trace_id: sent.reference,
        terra_reference: sent.reference,
        user_id: userId,
        status: 'delivered',
      });
      const info = await json<{ user: Record<string, unknown> }>(
        await own.terra(`/userInfo?user_id=${userId}`),
      );
      expect(info.user).toMatchObject({
        last_webhook_update: expect.stringMatching(/\+00:00$/),
        last_polled_at: expect.any(String),
        most_recent_data_at: expect.any(String),
      });
    });
  });

  it('defaults end_date to now, so the current day is included', async () => {
    await isolated({}, async (own) => {
      const userId = await own.connect('GARMIN');
      await own.terra(`/body?user_id=${userId}&start_date=${daysAgo(2)}`);
      const event = await own.receiver.waitFor((r) => r.body.type === 'body');
      expect((event.body.data as Record_[]).map(dayOf)).toEqual([daysAgo(2), daysAgo(1), daysAgo(0)]);
    });
  });

  it('sends the athlete profile with terra-reference', async () => {
    await isolated({}, async (own) => {
      const userId = await own.connect('WHOOP');
      const sent = await json<Sent>(await own.terra(`/athlete?user_id=${userId}`));
      expect(sent).toMatchObject({ status: 'success', type: 'athlete' });
      const event = await own.receiver.waitFor((r) => r.body.type === 'athlete');
      expect(header(event, 'terra-reference')).toBe(sent.reference);
      expect(event.body).toMatchObject({ athlete: { last_name: 'Sandbox' }, user: { user_id: userId } });
    });
  });

  it('keeps trace id and terra-reference across retries and chaos duplicates', async () => {
    await isolated({ chaos: { duplicateRate: 1 } }, async (own) => {
      const userId = await own.connect('GARMIN');
      await own.sandbox.idle();
      own.receiver.answer((received, index) => (received.body.type === 'nutrition' && index < 4 ? 500 : 200));
      const sent = await json<Sent>(await own.terra(`/nutrition?user_id=${userId}&start_date=${daysAgo(2)}`));
      await own.sandbox.idle();
      const attempts = own.receiver.ofType('nutrition');
      // Two copies, each failing once and then delivered.
      expect(attempts).toHaveLength(4);
      expect(new Set(attempts.map((a) => header(a, 'x-terra-trace-id')))).toEqual(new Set([sent.reference]));
      expect(new Set(attempts.map((a) => header(a, 'terra-reference')))).toEqual(new Set([sent.reference]));
    });
  });
});

describe('large requests (more than 31 days)', () => {
  it('sends processing, sending with expected_payloads, then the chunks, all under one terra-reference', async () => {
    await isolated({}, async (own) => {
      const userId = await own.connect('GARMIN', { reference_id: 'backfill' });
      await own.sandbox.idle();
      const response = await own.terra(
        `/daily?user_id=${userId}&start_date=${daysAgo(60)}&end_date=${daysAgo(1)}`,
      );
      const sent = await json<Sent>(response);
      expect(sent).toMatchObject({ status: 'success', type: 'daily', trace_id: sent.reference });
      expect(sent.message).toEqual(expect.stringContaining('chunks'));
      await own.sandbox.idle();

      const deliveries = own.receiver.received.filter((r) => r.body.type !== 'auth');
      // 60 days in chunks of 7: 9 chunks, the last with 4 days.
      expect(deliveries.map((r) => r.body.type)).toEqual([
        'large_request_processing',
        'large_request_sending',
        ...Array<string>(9).fill('daily'),
      ]);
      for (const delivery of deliveries) {
        expect(header(delivery, 'terra-reference')).toBe(sent.reference);
        expect(verifies(delivery)).toBe(true);
      }
      const [processing, sending, ...chunks] = deliveries as [Received, Received, ...Received[]];
      expect(processing.body).toEqual({
        type: 'large_request_processing',
        status: 'processing',
        reference: sent.reference,
        message: expect.any(String),
        user: expect.objectContaining({ user_id: userId, reference_id: 'backfill' }),
      });
      expect(sending.body).toEqual({
        type: 'large_request_sending',
        reference: sent.reference,
        message: expect.any(String),
        expected_payloads: 9,
        user: expect.objectContaining({ user_id: userId }),
      });
      expect(chunks.map((chunk) => header(chunk, 'x-terra-trace-id'))).toEqual(
        chunks.map((_, i) => `${sent.reference}:chunk:${i}`),
      );
      const traceIds = deliveries.map((d) => header(d, 'x-terra-trace-id'));
      expect(new Set(traceIds).size).toBe(traceIds.length);
      const days = chunks.flatMap((chunk) => (chunk.body.data as Record_[]).map(dayOf));
      expect(days).toEqual(Array.from({ length: 60 }, (_, i) => daysAgo(60 - i)));
      expect(chunks.map((chunk) => (chunk.body.data as unknown[]).length)).toEqual([
        7, 7, 7, 7, 7, 7, 7, 7, 4,
      ]);
      expect(
        own.sandbox
          .deliveries()
          .filter((d) => d.terra_reference === sent.reference)
          .map((d) => d.type),
      ).toEqual(['large_request_processing', 'large_request_sending', ...Array<string>(9).fill('daily')]);
    });
  });

  it('sends exactly 31 days as one plain event', async () => {
    await isolated({}, async (own) => {
      const userId = await own.connect('GARMIN');
      const sent = await json<Sent>(
        await own.terra(`/menstruation?user_id=${userId}&start_date=${daysAgo(31)}&end_date=${daysAgo(1)}`),
      );
      expect(sent).not.toHaveProperty('message');
      await own.sandbox.idle();
      expect(own.receiver.received.map((r) => r.body.type)).toEqual(['auth', 'menstruation']);
      expect(own.receiver.ofType('menstruation')[0]?.body.data).toHaveLength(31);
    });
  });

  it('follows largeRequestThresholdDays and largeRequestChunkDays, also when set at run time', async () => {
    await isolated({ largeRequestThresholdDays: 5 }, async (own) => {
      const patched = await own.control('/settings', { largeRequestChunkDays: 2 });
      expect(await json(patched)).toMatchObject({ largeRequestThresholdDays: 5, largeRequestChunkDays: 2 });
      const userId = await own.connect('GARMIN');
      await own.terra(`/sleep?user_id=${userId}&start_date=${daysAgo(6)}&end_date=${daysAgo(1)}`);
      await own.sandbox.idle();
      const sending = own.receiver.ofType('large_request_sending')[0];
      expect(sending?.body.expected_payloads).toBe(3);
      expect(own.receiver.ofType('sleep').map((chunk) => (chunk.body.data as unknown[]).length)).toEqual([
        2, 2, 2,
      ]);
      expect((await own.control('/settings', { largeRequestChunkDays: 0 })).status).toBe(400);
    });
  });
});

describe('rate limiting on data endpoints', () => {
  it('answers an injected 429 with Retry-After on /daily only, then recovers', async () => {
    await isolated({}, async (own) => {
      const userId = await own.connect('GARMIN');
      own.sandbox.settings({
        fault: { kind: 'status', status: 429, retryAfterSeconds: 30, times: 1, paths: ['/daily'] },
      });
      const query = `user_id=${userId}&start_date=${daysAgo(2)}&to_webhook=false`;
      expect((await own.terra(`/sleep?${query}`)).status).toBe(200);
      const limited = await own.terra(`/daily?${query}`);
      expect(limited.status).toBe(429);
      expect(limited.headers.get('retry-after')).toBe('30');
      expect(await json(limited)).toMatchObject({ title: 'too many requests' });
      const recovered = await own.terra(`/daily?${query}`);
      expect(recovered.status).toBe(200);
      expect((await json<Inline>(recovered)).type).toBe('daily');
      expect(own.sandbox.settings().fault).toBeUndefined();
    });
  });
});
