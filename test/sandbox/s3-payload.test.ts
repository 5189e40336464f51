import { afterEach, describe, expect, it, vi } from 'vitest';
import { dataEvent, padToBytes } from '#sandbox/payloads';
import { PayloadStore } from '#sandbox/s3';
import { Timers } from '#sandbox/timers';
import { RANGE_DATA_TYPES } from '#shared/terra/data-types';
import { type Harness, json, startHarness } from './harness.ts';
import type { Received } from './receiver.ts';

/** Bodies over `s3PayloadThresholdBytes` go out as Terra's `s3_payload`, served by the sandbox until expiry. */
const DAY_MS = 24 * 3600_000;
const daysAgo = (n: number) => new Date(Date.now() - n * DAY_MS).toISOString().slice(0, 10);

type S3Payload = { type: string; status: string; url: string; expires_in: number };

async function isolated(options: Parameters<typeof startHarness>[0], run: (own: Harness) => Promise<void>) {
  const own = await startHarness(options);
  try {
    await run(own);
  } finally {
    await own.close();
  }
}

async function fire(own: Harness, userId: string, type: string, body: unknown = {}) {
  const response = await own.control(`/users/${userId}/events/${type}`, body);
  return { status: response.status, body: await json<{ trace_id: string; detail?: string }>(response) };
}

const header = (received: Received, name: string) => received.headers[name] as string | undefined;

describe('s3_payload', () => {
  it('replaces a body over the threshold with a link that serves it, under the same trace id', async () => {
    await isolated({ s3PayloadThresholdBytes: 100_000 }, async (own) => {
      const userId = await own.connect('GARMIN');
      const fired = await fire(own, userId, 'daily', { bytes: 250_000 });
      expect(fired.status).toBe(200);
      const notice = await own.receiver.waitFor((r) => r.body.type === 's3_payload');
      expect(header(notice, 'x-terra-trace-id')).toBe(fired.body.trace_id);
      const body = notice.body as unknown as S3Payload;
      expect(body).toEqual({
        type: 's3_payload',
        status: 'success',
        url: expect.any(String),
        expires_in: 300,
      });
      const url = new URL(body.url);
      expect(url.origin).toBe(own.sandbox.url);
      expect(url.pathname).toMatch(/^\/s3\/payloads\/[0-9a-f]{32}\.json$/);
      expect(url.searchParams.get('X-Amz-Expires')).toBe('300');
      expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);

      const download = await fetch(body.url);
      expect(download.status).toBe(200);
      expect(download.headers.get('content-type')).toBe('application/json');
      const text = await download.text();
      expect(Number(download.headers.get('content-length'))).toBe(Buffer.byteLength(text));
      expect(Buffer.byteLength(text)).toBeGreaterThanOrEqual(250_000);
      expect(Buffer.byteLength(text)).toBeLessThan(260_000);
      const event = JSON.parse(text) as { type: string; user: { user_id: string }; data: unknown[] };
      expect(event).toMatchObject({ type: 'daily', version: '2022-03-16', user: { user_id: userId } });
      const [record] = event.data as Array<{ heart_rate_data: { detailed: { hr_samples: unknown[] } } }>;
      expect(record?.heart_rate_data.detailed.hr_samples[0]).toEqual({
        timestamp: expect.stringMatching(/\+00:00$/),
        bpm: expect.any(Number),
      });
      // Served again until it expires.
      expect((await fetch(body.url)).status).toBe(200);

      expect(own.sandbox.deliveries().at(-1)).toMatchObject({
        trace_id: fired.body.trace_id,
        type: 's3_payload',
        payload_type: 'daily',
        user_id: userId,
        status: 'delivered',
      });
    });
  });

  it('sends a padded body under the threshold inline, and never offloads with the threshold null or 0', async () => {
    await isolated({ s3PayloadThresholdBytes: 100_000 }, async (own) => {
      const userId = await own.connect('GARMIN');
      await fire(own, userId, 'sleep', { bytes: 60_000 });
      const inline = await own.receiver.waitFor((r) => r.body.type === 'sleep');
      expect(inline.raw.length).toBeGreaterThanOrEqual(60_000);

      for (const threshold of [null, 0]) {
        const settings = await json(await own.control('/settings', { s3PayloadThresholdBytes: threshold }));
        expect(settings.s3PayloadThresholdBytes).toBe(threshold);
        await fire(own, userId, 'activity', { bytes: 300_000 });
      }
      await own.sandbox.idle();
      const activities = own.receiver.ofType('activity');
      expect(activities).toHaveLength(2);
      for (const activity of activities) expect(activity.raw.length).toBeGreaterThanOrEqual(300_000);
      expect(own.receiver.ofType('s3_payload')).toHaveLength(0);
    });
  });

  it('offloads by default only above 1 MB', async () => {
    await isolated({}, async (own) => {
      expect(own.sandbox.settings()).toMatchObject({
        s3PayloadThresholdBytes: 1_000_000,
        s3PayloadExpiresSeconds: 300,
      });
      const userId = await own.connect('GARMIN');
      await fire(own, userId, 'body', { bytes: 900_000 });
      await fire(own, userId, 'body', { bytes: 1_100_000 });
      await own.sandbox.idle();
      expect(own.receiver.received.map((r) => r.body.type)).toEqual(['auth', 'body', 's3_payload']);
    });
  });

  it('pads every data type with its own kind of samples', async () => {
    await isolated({ s3PayloadThresholdBytes: null }, async (own) => {
      const userId = await own.connect('FITBIT');
      for (const type of RANGE_DATA_TYPES) await fire(own, userId, type, { bytes: 20_000 });
      await own.sandbox.idle();
      const sizes = own.receiver.received.filter((r) => r.body.type !== 'auth').map((r) => r.raw.length);
      for (const size of sizes) {
        expect(size).toBeGreaterThanOrEqual(20_000);
        expect(size).toBeLessThan(21_000);
      }
      const nutrition = own.receiver.ofType('nutrition')[0]?.body.data as Array<{ drink_samples: unknown[] }>;
      expect(nutrition[0]?.drink_samples[0]).toMatchObject({
        drink_volume: expect.any(Number),
        drink_unit: 8,
      });
      const flow = own.receiver.ofType('menstruation')[0]?.body.data as Array<{
        menstruation_data: { menstruation_flow: unknown[] };
      }>;
      expect(flow[0]?.menstruation_data.menstruation_flow.length).toBeGreaterThan(10);
    });
  });

  it('refuses bytes for events without samples, and a bad bytes value', async () => {
    await isolated({}, async (own) => {
      const userId = await own.connect('GARMIN');
      for (const type of ['athlete', 'connection_error'])
        expect((await fire(own, userId, type, { bytes: 5000 })).status).toBe(400);
      for (const bytes of [0, -1, 'big', 60_000_000])
        expect((await fire(own, userId, 'daily', { bytes })).status).toBe(400);
    });
  });

  it('offloads chunks of a large request, keeping their trace ids and terra-reference', async () => {
    await isolated({ s3PayloadThresholdBytes: 1_500 }, async (own) => {
      const userId = await own.connect('GARMIN');
      const response = await own.terra(
        `/daily?user_id=${userId}&start_date=${daysAgo(40)}&end_date=${daysAgo(1)}`,
      );
      const { reference } = await json<{ reference: string }>(response);
      await own.sandbox.idle();
      const deliveries = own.receiver.received.filter((r) => header(r, 'terra-reference') === reference);
      // The announcements are small and stay inline; each 7-day chunk is over 1.5 kB.
      expect(deliveries.map((r) => r.body.type)).toEqual([
        'large_request_processing',
        'large_request_sending',
        ...Array<string>(6).fill('s3_payload'),
      ]);
      const chunks = deliveries.slice(2);
      expect(chunks.map((chunk) => header(chunk, 'x-terra-trace-id'))).toEqual(
        chunks.map((_, i) => `${reference}:chunk:${i}`),
      );
      const firstUrl = (chunks[0]?.body as unknown as S3Payload | undefined)?.url ?? '';
      const first = JSON.parse(await (await fetch(firstUrl)).text());
      expect(first).toMatchObject({ type: 'daily', user: { user_id: userId } });
      expect(first.data).toHaveLength(7);
    });
  });

  it('answers 403 AccessDenied in S3 XML once expired, for an unknown token, and for an edited expiry', async () => {
    await isolated({ s3PayloadThresholdBytes: 1_000, s3PayloadExpiresSeconds: 1 }, async (own) => {
      const userId = await own.connect('GARMIN');
      await fire(own, userId, 'daily', { bytes: 5_000 });
      const notice = (await own.receiver.waitFor((r) => r.body.type === 's3_payload'))
        .body as unknown as S3Payload;
      expect(notice.expires_in).toBe(1);
      expect((await fetch(notice.url)).status).toBe(200);

      const edited = new URL(notice.url);
      edited.searchParams.set('X-Amz-Expires', '3600');
      const tampered = await fetch(edited);
      expect(tampered.status).toBe(403);
      expect(await tampered.text()).toContain('<Code>AccessDenied</Code>');

      const unknown = await fetch(`${own.sandbox.url}/s3/payloads/${'0'.repeat(32)}.json`);
      expect(unknown.status).toBe(403);
      expect(await unknown.text()).toContain(
        '<Error><Code>AccessDenied</Code><Message>Access Denied</Message>',
      );

      // Past the URL's one-second life (a lower bound: the URL must have expired by then).
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      const expired = await fetch(notice.url);
      expect(expired.status).toBe(403);
      expect(expired.headers.get('content-type')).toBe('application/xml');
      expect(await expired.text()).toContain(
        '<Error><Code>AccessDenied</Code><Message>Request has expired</Message><X-Amz-Expires>1</X-Amz-Expires>',
      );
    });
  });

  it('offloads events fired through the controls too, whatever their kind', async () => {
    await isolated({ s3PayloadThresholdBytes: 200 }, async (own) => {
      // Even an auth event is over 200 bytes.
      await own.connect('GARMIN');
      const notice = await own.receiver.waitFor(() => true);
      expect(notice.body.type).toBe('s3_payload');
      const original = await (await fetch((notice.body as unknown as S3Payload).url)).json();
      expect(original).toMatchObject({ type: 'auth', status: 'success' });
    });
  });
});

describe('PayloadStore', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('drops a body when its URL expires, so stored payloads stay bounded', () => {
    vi.useFakeTimers({ now: new Date('2026-07-01T09:00:00.250Z') });
    const timers = new Timers();
    const store = new PayloadStore(timers);
    const path = store.put('{"type":"daily"}', 60);
    const url = new URL(path, 'http://localhost');
    expect(url.searchParams.get('X-Amz-Date')).toBe('20260701T090000Z');
    expect(store.lookup(url)).toEqual({ found: true, body: '{"type":"daily"}' });
    expect(store.size).toBe(1);

    vi.advanceTimersByTime(60_000);
    expect(store.size).toBe(0);
    expect(store.lookup(url)).toMatchObject({
      found: false,
      code: 'AccessDenied',
      message: 'Request has expired',
    });
    expect(timers.size).toBe(0);
  });

  it('leaves no expiry timer behind once the sandbox timers stop', () => {
    const timers = new Timers();
    const store = new PayloadStore(timers);
    store.put('{}', 300);
    expect(timers.size).toBe(1);
    timers.stopAll();
    expect(timers.size).toBe(0);
  });
});

describe('padToBytes', () => {
  it('reaches the asked size and stays close to it', () => {
    const user = {
      user_id: 'u',
      provider: 'GARMIN',
      last_webhook_update: null,
      scopes: null,
      reference_id: null,
      active: true,
      created_at: null,
    };
    for (const bytes of [5_000, 123_456, 2_000_000]) {
      const size = Buffer.byteLength(JSON.stringify(padToBytes(dataEvent('daily', user), bytes)));
      expect(size).toBeGreaterThanOrEqual(bytes);
      expect(size).toBeLessThan(bytes * 1.02 + 200);
    }
    const small = dataEvent('sleep', user);
    expect(padToBytes(small, 10)).toBe(small);
  });
});
