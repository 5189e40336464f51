import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type DynamoDBDocumentClient,
  PutCommand,
  ScanCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { logger } from '#shared/log';
import { noSigningSecrets, replayDeliveries } from '#shared/operations/replay';
import { createDocumentClient } from '#shared/store/client';
import { ConnectionStore } from '#shared/store/connections';
import { DeletionStore } from '#shared/store/deletions';
import { DeliveryStore } from '#shared/store/deliveries';
import { RESERVED } from '#shared/store/tables';
import { DirectoryArchive, payloadKeyFor } from '#shared/webhooks/archive';
import type { PayloadFetcher } from '#shared/webhooks/payloads';
import { receiveWebhook, type WebhookDeps } from '#shared/webhooks/receive';
import { createTestTables, parkedUsers, type TestTables } from '../helpers/dynamo.ts';
import { type OutageProxy, startOutageProxy } from '../helpers/outage-proxy.ts';
import { signedHeaders } from '../helpers/signing.ts';
import {
  authCancelled,
  authSuccess,
  dataEvent,
  deauth,
  healthcheck,
  permissionChange,
  terraUser,
  userReauth,
} from '../helpers/terra-fixtures.ts';
import { receiverDeps } from '../helpers/webhook.ts';

const SECRET = 'integration-secret';
const LEASE_SECONDS = 15;

let tables: TestTables;
let proxy: OutageProxy;
let archiveDir: string;
let clock: { now: number };

beforeAll(async () => {
  tables = await createTestTables();
  proxy = await startOutageProxy(tables.endpoint);
});
afterAll(async () => {
  await proxy.close();
});

beforeEach(() => {
  archiveDir = mkdtempSync(join(tmpdir(), 'terra-archive-'));
  clock = { now: Date.now() };
});

function depsWith(
  overrides: Partial<WebhookDeps> = {},
  doc: DynamoDBDocumentClient = tables.doc,
): WebhookDeps {
  return receiverDeps(
    tables,
    { secret: SECRET, archiveDir, now: () => clock.now, leaseSeconds: LEASE_SECONDS, doc },
    overrides,
  );
}

function deliver(
  deps: WebhookDeps,
  payload: unknown,
  options: { traceId?: string; raw?: string; timestamp?: number } = {},
) {
  const body = options.raw ?? JSON.stringify(payload);
  const headers = signedHeaders(body, {
    secret: SECRET,
    timestamp: Math.floor(clock.now / 1000),
    ...options,
  });
  return receiveWebhook(deps, { headers, body: Buffer.from(body) });
}

const store = () => new ConnectionStore(tables.doc, tables);
const inbox = () =>
  new DeliveryStore(tables.doc, tables.inboxTable, store(), {
    leaseSeconds: LEASE_SECONDS,
    ttlDays: 30,
    now: () => clock.now,
  });

function archivedFiles(): string[] {
  return readdirSync(archiveDir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

/** Every item the connections table holds for a Terra user, records and anything else. */
async function itemsOf(user_id: string) {
  const { Items } = await tables.doc.send(
    new ScanCommand({
      TableName: tables.connectionsTable,
      FilterExpression: 'user_id = :u',
      ExpressionAttributeValues: { ':u': user_id },
    }),
  );
  return Items ?? [];
}

/** Which DynamoDB commands a delivery sends, in order. */
function countingClient(): { doc: DynamoDBDocumentClient; sent: string[] } {
  const doc = createDocumentClient({ dynamoEndpoint: tables.endpoint });
  const sent: string[] = [];
  const originalSend = doc.send.bind(doc);
  vi.spyOn(doc, 'send').mockImplementation(((command: { constructor: { name: string }; input: unknown }) => {
    sent.push(
      command instanceof TransactWriteCommand
        ? `transact:${command.input.TransactItems?.length}`
        : command.constructor.name.replace(/Command$/, ''),
    );
    return originalSend(command as never);
  }) as typeof doc.send);
  return { doc, sent };
}

let counter = 0;
const uniqueRef = () => `ref-${Date.now()}-${++counter}`;
const uniqueUser = () => `user-${Date.now()}-${++counter}`;

describe('the receiver', () => {
  it('archives the raw body, records the connection and closes the inbox item', async () => {
    const reference_id = uniqueRef();
    const user_id = uniqueUser();
    const payload = authSuccess({ user: terraUser({ user_id, reference_id, provider: 'GARMIN' }) });
    const result = await deliver(depsWith(), payload, { traceId: `trace-${user_id}` });

    expect(result).toMatchObject({ status: 200, outcome: 'processed', event_id: `trace-${user_id}` });
    const record = await store().get(user_id);
    expect(record).toMatchObject({
      reference_id,
      status: 'active',
      provider: 'GARMIN',
      scopes: ['ACTIVITY_EXPORT', 'HEALTH_EXPORT'],
    });
    const files = archivedFiles();
    expect(files).toHaveLength(1);
    expect(readFileSync(files[0] ?? '', 'utf8')).toBe(JSON.stringify(payload));
    expect(files[0]).toContain(join(archiveDir, 'users', user_id));
    expect(files[0]).toMatch(/\/\d{4}\/\d{2}\/\d{2}\//);
    expect(await inbox().get(`trace-${user_id}`)).toMatchObject({
      status: 'processed',
      type: 'auth',
      user_id,
    });
  });

  it('answers 401 to a bad signature and writes nothing anywhere', async () => {
    const user_id = uniqueUser();
    const body = JSON.stringify(authSuccess({ user: terraUser({ user_id, reference_id: uniqueRef() }) }));
    const headers = signedHeaders(body, { secret: 'not-the-secret', traceId: `trace-${user_id}` });
    const result = await receiveWebhook(depsWith(), { headers, body: Buffer.from(body) });

    expect(result.status).toBe(401);
    expect(archivedFiles()).toEqual([]);
    expect(await inbox().get(`trace-${user_id}`)).toBeUndefined();
    expect(await itemsOf(user_id)).toEqual([]);
  });

  it('answers 400 to malformed JSON under a valid signature, archived and marked failed', async () => {
    const traceId = `trace-${uniqueUser()}`;
    const first = await deliver(depsWith(), undefined, { raw: '{"type":"auth",', traceId });
    expect(first).toMatchObject({ status: 400, outcome: 'malformed' });
    expect(archivedFiles()).toHaveLength(1);
    expect(archivedFiles()[0]).toContain(join(archiveDir, 'unattributed'));
    expect(await inbox().get(traceId)).toMatchObject({
      status: 'failed',
      attention: 'failed',
      outcome: 'malformed_json',
    });
    // Terra retries a 400; the retry gets the same answer and changes nothing.
    expect((await deliver(depsWith(), undefined, { raw: '{"type":"auth",', traceId })).status).toBe(400);
  });

  it('acknowledges unknown types, informational events and odd payloads with 200, recording no connection', async () => {
    for (const payload of [
      healthcheck(),
      { type: 'brand_new_event', user: terraUser() },
      [1, 2],
      { hello: 'x' },
    ]) {
      const result = await deliver(depsWith(), payload);
      expect(result.status).toBe(200);
      expect(result.outcome).toBe('ignored');
      expect(await inbox().get(result.event_id ?? '')).toMatchObject({ status: 'ignored' });
    }
  });

  it('keeps a deauth of a user it never saw, so a late auth cannot revive it', async () => {
    const reference_id = uniqueRef();
    const user_id = uniqueUser();
    const user = terraUser({ user_id, reference_id });
    clock.now += 10_000;
    expect((await deliver(depsWith(), deauth({ user }))).status).toBe(200);
    clock.now -= 5_000;
    expect((await deliver(depsWith(), authSuccess({ user }))).status).toBe(200);
    expect(await store().get(user_id)).toMatchObject({ status: 'disconnected' });
  });
});

describe('deduplication', () => {
  it('treats a replayed delivery as a no-op that still answers 200', async () => {
    const reference_id = uniqueRef();
    const user_id = uniqueUser();
    const payload = authSuccess({ user: terraUser({ user_id, reference_id }) });
    expect((await deliver(depsWith(), payload)).outcome).toBe('processed');
    const before = await tables.doc.send(new ScanCommand({ TableName: tables.connectionsTable }));
    const replay = await deliver(depsWith(), payload);
    expect(replay).toMatchObject({ status: 200, outcome: 'duplicate' });
    const after = await tables.doc.send(new ScanCommand({ TableName: tables.connectionsTable }));
    expect(after.Items).toEqual(before.Items);
  });

  it.each([
    ['a data event with a trace id', 'data', true],
    ['a data event keyed by body hash', 'data', false],
    ['an auth with a trace id', 'auth', true],
    ['an auth keyed by body hash', 'auth', false],
  ] as const)('applies 20 concurrent copies of %s exactly once', async (_, kind, withTrace) => {
    const reference_id = uniqueRef();
    const user_id = uniqueUser();
    const user = terraUser({ user_id, reference_id });
    const payload = kind === 'data' ? dataEvent('activity', { user }) : authSuccess({ user });
    const traceId = withTrace ? `trace-${user_id}` : undefined;
    const results = await Promise.all(
      Array.from({ length: 20 }, () => deliver(depsWith(), payload, traceId ? { traceId } : {})),
    );
    const outcomes = results.map((result) => result.outcome).sort();
    expect(results.map((result) => result.status)).toEqual(Array(20).fill(200));
    expect(outcomes.filter((outcome) => outcome === 'processed')).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome === 'duplicate')).toHaveLength(19);
    const items = await itemsOf(user_id);
    expect(items).toHaveLength(1);
    expect(items[0]?.version).toBe(1);
    expect((await inbox().get(results[0]?.event_id ?? ''))?.attempts).toBe(1);
  });
});

describe('data events', () => {
  it('take two DynamoDB round trips for a known user, no lease and no read: touch the record, record the delivery', async () => {
    const reference_id = uniqueRef();
    const user_id = uniqueUser();
    await deliver(depsWith(), authSuccess({ user: terraUser({ user_id, reference_id }) }));
    const { doc, sent } = countingClient();
    clock.now += 60_000;
    const result = await deliver(
      depsWith({}, doc),
      dataEvent('sleep', { user: terraUser({ user_id, reference_id }) }),
    );
    expect(result.outcome).toBe('processed');
    expect(sent).toEqual(['Update', 'Put']);
    const delivery = await inbox().get(result.event_id ?? '');
    expect(delivery).toMatchObject({ status: 'processed', data: true, user_id, reference_id, type: 'sleep' });
    // A processed data delivery stays out of the sparse index the operations CLI lists.
    expect(delivery).not.toHaveProperty('attention');
  });

  it('name the app user on the delivery even when the payload does not, from the record', async () => {
    const reference_id = uniqueRef();
    const user_id = uniqueUser();
    await deliver(depsWith(), authSuccess({ user: terraUser({ user_id, reference_id }) }));
    const result = await deliver(
      depsWith(),
      dataEvent('daily', { user: terraUser({ user_id, reference_id: null }) }),
    );
    expect(await inbox().get(result.event_id ?? '')).toMatchObject({ reference_id, data: true });
  });

  it('an older data event changes nothing on the record but is still recorded once', async () => {
    const reference_id = uniqueRef();
    const user_id = uniqueUser();
    await deliver(depsWith(), authSuccess({ user: terraUser({ user_id, reference_id }) }));
    clock.now += 60_000;
    await deliver(depsWith(), dataEvent('daily', { user: terraUser({ user_id, reference_id }) }));
    const before = await store().get(user_id);
    clock.now -= 30_000;
    const older = await deliver(
      depsWith(),
      dataEvent('sleep', { user: terraUser({ user_id, reference_id }) }),
    );
    expect(older.outcome).toBe('processed');
    expect(await store().get(user_id)).toEqual(before);
  });
});

describe('user_reauth', () => {
  it('swaps old for new in one transaction with the inbox completion', async () => {
    const reference_id = uniqueRef();
    const oldId = uniqueUser();
    const newId = uniqueUser();
    await deliver(depsWith(), authSuccess({ user: terraUser({ user_id: oldId, reference_id }) }));

    const { doc: spyDoc, sent } = countingClient();

    clock.now += 1_000;
    const payload = userReauth({
      old_user: terraUser({ user_id: oldId, reference_id }),
      new_user: terraUser({ user_id: newId, reference_id }),
    });
    expect((await deliver(depsWith({}, spyDoc), payload)).outcome).toBe('processed');
    // Old record, new record with its owner guard, and the inbox completion: one transaction.
    expect(sent.filter((command) => command.startsWith('transact'))).toEqual(['transact:4']);
    expect(await store().get(oldId)).toMatchObject({ status: 'replaced', replaced_by: newId });
    expect(await store().get(newId)).toMatchObject({ status: 'active', replaces: oldId });
  });

  it('accepts a null old_user and activates the new connection', async () => {
    const reference_id = uniqueRef();
    const newId = uniqueUser();
    const payload = userReauth({ old_user: null, new_user: terraUser({ user_id: newId, reference_id }) });
    expect((await deliver(depsWith(), payload)).outcome).toBe('processed');
    const record = await store().get(newId);
    expect(record?.status).toBe('active');
    expect(record?.replaces).toBeUndefined();
  });
});

describe('replays', () => {
  it('refuses a captured delivery replayed after the tolerance window, changing nothing', async () => {
    const reference_id = uniqueRef();
    const user_id = uniqueUser();
    const body = JSON.stringify(authSuccess({ user: terraUser({ user_id, reference_id }) }));
    const headers = signedHeaders(body, { secret: SECRET, timestamp: Math.floor(clock.now / 1000) });
    expect((await receiveWebhook(depsWith(), { headers, body: Buffer.from(body) })).outcome).toBe(
      'processed',
    );
    const before = await store().get(user_id);

    clock.now += 301_000;
    const replayed = await receiveWebhook(depsWith(), { headers, body: Buffer.from(body) });
    expect(replayed).toMatchObject({ status: 401, outcome: 'stale' });
    expect(await store().get(user_id)).toEqual(before);
    // Already processed: the late copy adds nothing, not even a quarantined file.
    expect(archivedFiles().filter((file) => file.includes('quarantine'))).toEqual([]);
  });
});

describe('stale deliveries', () => {
  it('quarantines a validly signed delivery outside the window and records it stale, applying nothing', async () => {
    const user_id = uniqueUser();
    const payload = authSuccess({ user: terraUser({ user_id, reference_id: uniqueRef() }) });
    const traceId = `trace-${user_id}`;
    const old = Math.floor(clock.now / 1000) - 3600;
    const result = await deliver(depsWith(), payload, { traceId, timestamp: old });
    expect(result).toMatchObject({ status: 401, outcome: 'stale' });
    const files = archivedFiles();
    expect(files).toHaveLength(1);
    expect(files[0]).toContain(join(archiveDir, 'quarantine', user_id));
    expect(readFileSync(files[0] ?? '', 'utf8')).toBe(JSON.stringify(payload));
    expect(await inbox().get(traceId)).toMatchObject({
      status: 'stale',
      attention: 'stale',
      type: 'auth',
      user_id,
      signed_at: old,
      archive_key: expect.stringMatching(/^quarantine\//),
    });
    expect(await itemsOf(user_id)).toEqual([]);
    // A second stale copy changes nothing.
    expect((await deliver(depsWith(), payload, { traceId, timestamp: old })).status).toBe(401);
    expect(archivedFiles()).toHaveLength(1);
  });

  it('a bad HMAC outside the window writes nothing at all', async () => {
    const user_id = uniqueUser();
    const body = JSON.stringify(authSuccess({ user: terraUser({ user_id }) }));
    const headers = signedHeaders(body, {
      secret: 'not-the-secret',
      timestamp: Math.floor(clock.now / 1000) - 3600,
      traceId: `trace-${user_id}`,
    });
    expect((await receiveWebhook(depsWith(), { headers, body: Buffer.from(body) })).outcome).toBe('rejected');
    expect(archivedFiles()).toEqual([]);
    expect(await inbox().get(`trace-${user_id}`)).toBeUndefined();
  });
});

describe('crashes between steps', () => {
  const never = () => new Promise<void>(() => undefined);

  it('repairs a delivery whose attempt died after the archive write', async () => {
    const reference_id = uniqueRef();
    const user_id = uniqueUser();
    const traceId = `trace-${user_id}`;
    const payload = authSuccess({ user: terraUser({ user_id, reference_id }) });
    let release: () => void = () => undefined;
    const stuck = new Promise<void>((resolve) => {
      release = resolve;
    });
    const zombie = deliver(
      depsWith({ afterStep: (step) => (step === 'archive' ? stuck : undefined) }),
      payload,
      { traceId },
    );

    // Terra times out and retries: nothing holds the delivery yet, so the retry applies it.
    const retried = await deliver(depsWith(), payload, { traceId });
    expect(retried.outcome).toBe('processed');
    release();
    expect((await zombie).outcome).toBe('duplicate');
    expect(await inbox().get(traceId)).toMatchObject({ status: 'processed', attempts: 1 });
  });

  it('repairs a delivery whose attempt died holding the inbox lease, and applies it once', async () => {
    const reference_id = uniqueRef();
    const user_id = uniqueUser();
    const traceId = `trace-${user_id}`;
    const payload = authSuccess({ user: terraUser({ user_id, reference_id }) });
    let resume: () => void = () => undefined;
    const paused = new Promise<void>((resolve) => {
      resume = resolve;
    });
    const zombie = deliver(
      depsWith({ afterStep: (step) => (step === 'claim' ? paused : undefined) }),
      payload,
      {
        traceId,
      },
    );
    await vi.waitFor(async () => expect(await inbox().get(traceId)).toMatchObject({ status: 'received' }));

    // While the lease holds, a retry does not apply a second time; once it runs out, a retry takes over.
    expect((await deliver(depsWith(), payload, { traceId })).outcome).toBe('in_progress');
    clock.now += (LEASE_SECONDS + 1) * 1000;
    expect((await deliver(depsWith(), payload, { traceId })).outcome).toBe('processed');

    // The first attempt wakes up with a lease that is no longer its own: it must not write.
    resume();
    expect((await zombie).status).toBe(503);
    expect((await itemsOf(user_id)).map((item) => item.version)).toEqual([1]);
  });

  it('never hangs the caller forever: an attempt that never returns is simply superseded', async () => {
    const user_id = uniqueUser();
    const traceId = `trace-${user_id}`;
    const payload = deauth({ user: terraUser({ user_id, reference_id: uniqueRef() }) });
    void deliver(depsWith({ afterStep: (step) => (step === 'claim' ? never() : undefined) }), payload, {
      traceId,
    });
    await vi.waitFor(async () => expect(await inbox().get(traceId)).toMatchObject({ status: 'received' }));
    clock.now += (LEASE_SECONDS + 1) * 1000;
    expect((await deliver(depsWith(), payload, { traceId })).outcome).toBe('processed');
  });
});

describe('users without a reference_id', () => {
  it('parks a reference-less delivery for a Terra user nobody owns: no record, archived under unattributed/, recorded parked', async () => {
    const user_id = uniqueUser();
    const traceId = `trace-${user_id}`;
    const result = await deliver(
      depsWith(),
      authSuccess({ user: terraUser({ user_id, reference_id: null }) }),
      {
        traceId,
      },
    );
    expect(result).toMatchObject({ status: 200, outcome: 'parked' });
    expect(await itemsOf(user_id)).toEqual([]);
    expect(await store().owner(user_id)).toEqual({ state: 'missing' });
    const delivery = await inbox().get(traceId);
    expect(delivery).toMatchObject({ status: 'parked', attention: 'parked', user_id, parked: true });
    expect(delivery?.archive_key.startsWith(`unattributed/${user_id}/`)).toBe(true);
    expect(await parkedUsers(tables.doc, tables.inboxTable)).toContain(user_id);
    // Parked twice is parked once.
    expect(
      await deliver(depsWith(), authSuccess({ user: terraUser({ user_id, reference_id: null }) }), {
        traceId,
      }),
    ).toMatchObject({ status: 200, outcome: 'duplicate' });
  });

  it('creates the record of an unknown Terra user a data event names under that app user, with its provider', async () => {
    const reference_id = uniqueRef();
    const user_id = uniqueUser();
    const result = await deliver(
      depsWith(),
      dataEvent('sleep', { user: terraUser({ user_id, reference_id, provider: 'OURA' }) }),
    );
    expect(result.outcome).toBe('processed');
    expect(await store().get(user_id)).toMatchObject({ reference_id, provider: 'OURA', status: 'active' });
  });

  it('routes a reference-less event to the record its user already has', async () => {
    const reference_id = uniqueRef();
    const user_id = uniqueUser();
    await deliver(depsWith(), authSuccess({ user: terraUser({ user_id, reference_id }) }));
    clock.now += 60_000;
    await deliver(depsWith(), dataEvent('sleep', { user: terraUser({ user_id, reference_id: null }) }));
    const record = await store().get(user_id);
    expect(record?.last_webhook_update).toBe(new Date(Math.floor(clock.now / 1000) * 1000).toISOString());
    expect(await itemsOf(user_id)).toHaveLength(1);
  });

  it('applies what was parked once the auth names the owner: one record, under the app user', async () => {
    const reference_id = uniqueRef();
    const user_id = uniqueUser();
    const anonymous = terraUser({ user_id, reference_id: null });
    const parked = await deliver(depsWith(), dataEvent('activity', { user: anonymous }), {
      traceId: `p-${user_id}`,
    });
    expect(parked.outcome).toBe('parked');
    clock.now += 1_000;
    await deliver(depsWith(), authSuccess({ user: terraUser({ user_id, reference_id }) }));
    // What the publisher does when the user's first record commits.
    expect(await inbox().drain(user_id)).toBe(1);
    expect(await inbox().get(`p-${user_id}`)).toMatchObject({ status: 'processed', outcome: 'applied' });
    expect((await inbox().get(`p-${user_id}`))?.attention).toBeUndefined();
    expect(await inbox().drain(user_id)).toBe(0);
    clock.now += 1_000;
    await deliver(depsWith(), deauth({ user: anonymous }));
    expect(await itemsOf(user_id)).toHaveLength(1);
    const listed = await store().listByReference(reference_id);
    expect(listed.map((record) => [record.user_id, record.status])).toEqual([[user_id, 'disconnected']]);
    expect(listed[0]?.last_webhook_update).toBeDefined();
  });

  it('keeps one record when the same reference-less and referenced deliveries race, in any order', async () => {
    const reference_id = uniqueRef();
    const user_id = uniqueUser();
    const anonymous = terraUser({ user_id, reference_id: null });
    const base = Math.floor(clock.now / 1000);
    const deliveries = [
      { payload: dataEvent('activity', { user: anonymous }), at: base },
      { payload: authSuccess({ user: terraUser({ user_id, reference_id }) }), at: base + 1 },
      { payload: dataEvent('sleep', { user: anonymous }), at: base + 2 },
      { payload: deauth({ user: anonymous }), at: base + 3 },
    ];
    const copies = [...deliveries, ...deliveries].sort(() => Math.random() - 0.5);
    const results = await Promise.all(
      copies.map(({ payload, at }) =>
        deliver(depsWith(), payload, { timestamp: at, traceId: `t-${user_id}-${at}` }),
      ),
    );
    // A copy that lost the race to the owner answers 500; Terra's retry goes the normal way.
    for (const [i, result] of results.entries()) {
      if (result.status === 500) {
        const copy = copies[i];
        if (copy)
          await deliver(depsWith(), copy.payload, { timestamp: copy.at, traceId: `t-${user_id}-${copy.at}` });
      }
    }
    await inbox().drain(user_id);
    expect(await itemsOf(user_id)).toHaveLength(1);
    expect(await store().get(user_id)).toMatchObject({ reference_id, status: 'disconnected' });
    expect(await parkedUsers(tables.doc, tables.inboxTable)).not.toContain(user_id);
  });
});

/** `ops replay` of one delivery, its s3_payload URL expired by now, with this run's stores. */
function replayExpired(traceId: string, payloads: PayloadFetcher) {
  return replayDeliveries(
    {
      reader: {
        deliveries: async (ids) =>
          (await Promise.all(ids.map((id) => inbox().get(id)))).filter((d) => d !== undefined),
      },
      archive: new DirectoryArchive(archiveDir),
      receiver: depsWith({ signingSecrets: noSigningSecrets, payloads }),
      deliveries: new DeletionStore(tables.doc, tables, { tombstoneDays: 30, now: Date.now }),
    },
    [traceId],
  );
}

describe('deleted users', () => {
  async function tombstone(user_id: string) {
    await tables.doc.send(
      new PutCommand({
        TableName: tables.inboxTable,
        Item: {
          event_id: RESERVED.owner(user_id),
          user_id,
          deleted_at: new Date().toISOString(),
          expires_at: 4_000_000_000,
        },
      }),
    );
  }

  it.each([
    ['a data event', (user_id: string) => dataEvent('activity', { user: terraUser({ user_id }) })],
    ['a deauth', (user_id: string) => deauth({ user: terraUser({ user_id }) })],
    ['an auth', (user_id: string) => authSuccess({ user: terraUser({ user_id }) })],
  ])(
    'acknowledge %s for a deleted user, neither applying nor archiving nor recording it',
    async (_, build) => {
      const user_id = uniqueUser();
      await tombstone(user_id);
      const traceId = `trace-${user_id}`;
      expect(await deliver(depsWith(), build(user_id), { traceId })).toMatchObject({
        status: 200,
        outcome: 'deleted_user',
      });
      expect(archivedFiles()).toEqual([]);
      expect(await inbox().get(traceId)).toBeUndefined();
      expect(await itemsOf(user_id)).toEqual([]);
      expect(await store().owner(user_id)).toEqual({ state: 'deleted', deleted_at: expect.any(String) });
    },
  );

  it.each(['running', 'done'])(
    'keep nothing that names only an app user whose deletion is %s, fresh or stale',
    async (status) => {
      const reference_id = uniqueRef();
      // The deletion's job, as the deletion saves it: a delivery arriving while it runs could land after
      // its last sweep, so it is refused as soon as the job exists.
      await tables.doc.send(
        new PutCommand({
          TableName: tables.inboxTable,
          Item: { event_id: `deletion#${reference_id}`, reference_id, status, version: 1 },
        }),
      );
      const fresh = await deliver(depsWith(), authCancelled({ reference_id }), {
        traceId: `trace-${reference_id}`,
      });
      expect(fresh).toMatchObject({ status: 200, outcome: 'deleted_user' });
      const stale = await deliver(depsWith(), authCancelled({ reference_id }), {
        traceId: `trace-${reference_id}-stale`,
        timestamp: Math.floor(clock.now / 1000) - 3600,
      });
      expect(stale).toMatchObject({ status: 401, outcome: 'stale' });
      expect(archivedFiles()).toEqual([]);
      expect(await inbox().get(`trace-${reference_id}`)).toBeUndefined();
      expect(await inbox().get(`trace-${reference_id}-stale`)).toBeUndefined();
    },
  );
});

describe('failures of our own', () => {
  it('answers 500 when the store goes down mid-event, and the retry repairs everything', async () => {
    const reference_id = uniqueRef();
    const user_id = uniqueUser();
    const traceId = `trace-${user_id}`;
    const doc = createDocumentClient({ dynamoEndpoint: proxy.endpoint });
    const payload = authSuccess({ user: terraUser({ user_id, reference_id }) });

    // The outage starts after the inbox claim, before the records are written.
    const crashing = depsWith({ afterStep: (step) => (step === 'claim' ? proxy.down() : undefined) }, doc);
    const failed = await deliver(crashing, payload, { traceId });
    expect(failed).toMatchObject({ status: 500, outcome: 'error' });
    expect(await store().get(user_id)).toBeUndefined();
    expect(await inbox().get(traceId)).toMatchObject({ status: 'received' });

    // Terra retries later; the crashed attempt's lease has run out by then.
    proxy.up();
    clock.now += (LEASE_SECONDS + 1) * 1000;
    const retried = await deliver(depsWith({}, doc), payload, { traceId });
    expect(retried).toMatchObject({ status: 200, outcome: 'processed' });
    expect(await store().get(user_id)).toMatchObject({ status: 'active' });
    expect(await inbox().get(traceId)).toMatchObject({ status: 'processed', attempts: 2 });
  }, 8_000);

  it('gives the lease back when the store fails but is reachable, so an immediate retry succeeds', async () => {
    const reference_id = uniqueRef();
    const user_id = uniqueUser();
    const traceId = `trace-${user_id}`;
    const payload = authSuccess({ user: terraUser({ user_id, reference_id }) });
    const deps = depsWith();
    const connections = deps.connections as ConnectionStore;
    vi.spyOn(connections, 'applyTogether').mockRejectedValueOnce(
      new Error('ProvisionedThroughputExceededException'),
    );

    expect((await deliver(deps, payload, { traceId })).status).toBe(500);
    expect((await deliver(depsWith(), payload, { traceId })).outcome).toBe('processed');
  });

  it('answers 500 when the signing secret cannot be read, writing nothing', async () => {
    const user_id = uniqueUser();
    const payload = authSuccess({ user: terraUser({ user_id, reference_id: uniqueRef() }) });
    const signingSecrets = () => Promise.reject(new Error('Secrets Manager unavailable'));
    const result = await deliver(depsWith({ signingSecrets }), payload, { traceId: `trace-${user_id}` });
    expect(result).toMatchObject({ status: 500, outcome: 'error' });
    expect(archivedFiles()).toEqual([]);
    expect(await inbox().get(`trace-${user_id}`)).toBeUndefined();
  });

  it('answers 500 when the archive is down, changes nothing, and the retry succeeds', async () => {
    const reference_id = uniqueRef();
    const user_id = uniqueUser();
    const traceId = `trace-${user_id}`;
    const broken = new DirectoryArchive(archiveDir);
    vi.spyOn(broken, 'put').mockRejectedValue(new Error('S3 unavailable'));
    const payload = authSuccess({ user: terraUser({ user_id, reference_id }) });

    expect((await deliver(depsWith({ archive: broken }), payload, { traceId })).status).toBe(500);
    expect(await inbox().get(traceId)).toBeUndefined();
    expect(await store().get(user_id)).toBeUndefined();
    expect((await deliver(depsWith(), payload, { traceId })).outcome).toBe('processed');
  });
});

describe('logs', () => {
  it('carry event id, type, user_id and outcome, and never the body, signature or secret', async () => {
    const reference_id = uniqueRef();
    const user_id = uniqueUser();
    const payload = authSuccess({
      user: terraUser({ user_id, reference_id, scopes: 'SECRET_SCOPE_MARKER' }),
    });
    const body = JSON.stringify(payload);
    const headers = signedHeaders(body, { secret: SECRET, timestamp: Math.floor(clock.now / 1000) });
    const lines: string[] = [];
    const capture = (chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    };
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
    logger.setLogLevel('DEBUG');
    try {
      await receiveWebhook(depsWith(), { headers, body: Buffer.from(body) });
      await receiveWebhook(depsWith(), {
        headers: { ...headers, 'terra-signature': 't=1,v1=00' },
        body: Buffer.from(body),
      });
    } finally {
      logger.setLogLevel('SILENT');
      out.mockRestore();
      err.mockRestore();
    }
    const output = lines.join('');
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries).toContainEqual(
      expect.objectContaining({ outcome: 'processed', type: 'auth', user_id, event_id: expect.any(String) }),
    );
    expect(entries).toContainEqual(expect.objectContaining({ outcome: 'rejected' }));
    expect(output).not.toContain(SECRET);
    expect(output).not.toContain(headers['terra-signature']?.split('v1=')[1]);
    expect(output).not.toContain('SECRET_SCOPE_MARKER');
    expect(output).not.toContain(reference_id);
  });
});

describe('s3_payload', () => {
  const notification = {
    type: 's3_payload',
    status: 'success',
    url: 'https://b.s3.eu-west-2.amazonaws.com/p.json',
    expires_in: 300,
  };
  const answering = (fetched: Awaited<ReturnType<PayloadFetcher['fetch']>>): PayloadFetcher => ({
    fetch: async () => fetched,
  });

  it('processes the downloaded payload as the inline data event it stands for, archived next to the notification', async () => {
    const reference_id = uniqueRef();
    const user_id = uniqueUser();
    await deliver(depsWith(), authSuccess({ user: terraUser({ user_id, reference_id }) }));
    const payload = Buffer.from(
      JSON.stringify(dataEvent('sleep', { user: terraUser({ user_id, reference_id }) })),
    );
    const traceId = `trace-${user_id}-s3`;
    const result = await deliver(
      depsWith({ payloads: answering({ ok: true, body: payload }) }),
      notification,
      { traceId },
    );
    expect(result).toMatchObject({ status: 200, outcome: 'processed' });
    const delivery = await inbox().get(traceId);
    expect(delivery).toMatchObject({
      type: 'sleep',
      user_id,
      reference_id,
      data: true,
      bytes: payload.length,
    });
    expect(delivery?.payload_key).toBe(delivery?.archive_key.replace(/\.json$/, '.payload.json'));
    expect(readFileSync(join(archiveDir, delivery?.payload_key ?? ''))).toEqual(payload);
    expect(readFileSync(join(archiveDir, delivery?.archive_key ?? ''), 'utf8')).toBe(
      JSON.stringify(notification),
    );
  });

  it.each(['expired', 'forbidden', 'too_large', 'not_allowed'] as const)(
    'records a %s URL as a failed delivery with its reason, kept and answered 200 (a retry cannot fix it)',
    async (reason) => {
      const traceId = `trace-${uniqueUser()}`;
      const result = await deliver(
        depsWith({ payloads: answering({ ok: false, retryable: false, reason }) }),
        notification,
        { traceId },
      );
      expect(result).toMatchObject({ status: 200, outcome: 'payload_failed' });
      expect(await inbox().get(traceId)).toMatchObject({
        status: 'failed',
        attention: 'failed',
        outcome: `payload_${reason}`,
        type: 's3_payload',
        archive_key: expect.stringMatching(/^unattributed\//),
      });
      expect(archivedFiles()).toHaveLength(1);
    },
  );

  it('answers 500 to a download a retry may fix, keeping the notification and recording nothing', async () => {
    const traceId = `trace-${uniqueUser()}`;
    const result = await deliver(
      depsWith({ payloads: answering({ ok: false, retryable: true, reason: 'timeout' }) }),
      notification,
      { traceId },
    );
    expect(result).toMatchObject({ status: 500, outcome: 'error' });
    expect(await inbox().get(traceId)).toBeUndefined();
    expect(archivedFiles()).toHaveLength(1);
  });

  it('keeps a processed delivery processed when a late copy of it finds the payload URL expired', async () => {
    const reference_id = uniqueRef();
    const user_id = uniqueUser();
    await deliver(depsWith(), authSuccess({ user: terraUser({ user_id, reference_id }) }));
    const payload = Buffer.from(
      JSON.stringify(dataEvent('daily', { user: terraUser({ user_id, reference_id }) })),
    );
    const traceId = `trace-${user_id}-late`;
    await deliver(depsWith({ payloads: answering({ ok: true, body: payload }) }), notification, { traceId });
    const processed = await inbox().get(traceId);
    expect(processed).toMatchObject({ status: 'processed', type: 'daily' });

    clock.now += 60_000;
    const late = await deliver(
      depsWith({ payloads: answering({ ok: false, retryable: false, reason: 'expired' }) }),
      notification,
      { traceId },
    );
    expect(late).toMatchObject({ status: 200, outcome: 'duplicate' });
    expect(await inbox().get(traceId)).toStrictEqual(processed);
  });

  it('lets a copy that downloads the data payload win over a copy that found the URL expired first', async () => {
    const reference_id = uniqueRef();
    const user_id = uniqueUser();
    await deliver(depsWith(), authSuccess({ user: terraUser({ user_id, reference_id }) }));
    const payload = Buffer.from(
      JSON.stringify(dataEvent('daily', { user: terraUser({ user_id, reference_id }) })),
    );
    const traceId = `trace-${user_id}-race`;
    const expired = answering({ ok: false, retryable: false, reason: 'expired' });
    expect(await deliver(depsWith({ payloads: expired }), notification, { traceId })).toMatchObject({
      outcome: 'payload_failed',
    });
    const won = await deliver(depsWith({ payloads: answering({ ok: true, body: payload }) }), notification, {
      traceId,
    });
    expect(won).toMatchObject({ status: 200, outcome: 'processed' });
    const delivery = await inbox().get(traceId);
    expect(delivery).toMatchObject({ status: 'processed', outcome: 'applied', type: 'daily', data: true });
    expect(delivery?.attention).toBeUndefined();
    expect(readFileSync(join(archiveDir, delivery?.payload_key ?? ''))).toEqual(payload);
    // And a failure after it leaves it processed.
    expect(await deliver(depsWith({ payloads: expired }), notification, { traceId })).toMatchObject({
      outcome: 'duplicate',
    });
    expect(await inbox().get(traceId)).toStrictEqual(delivery);
  });

  it('lets a copy that downloads a connection event win over a copy that found the URL expired first', async () => {
    const reference_id = uniqueRef();
    const user_id = uniqueUser();
    await deliver(depsWith(), authSuccess({ user: terraUser({ user_id, reference_id }) }));
    const payload = Buffer.from(JSON.stringify(deauth({ user: terraUser({ user_id, reference_id }) })));
    const traceId = `trace-${user_id}-race`;
    const expired = answering({ ok: false, retryable: false, reason: 'expired' });
    await deliver(depsWith({ payloads: expired }), notification, { traceId });
    expect(await inbox().get(traceId)).toMatchObject({ status: 'failed' });
    const won = await deliver(depsWith({ payloads: answering({ ok: true, body: payload }) }), notification, {
      traceId,
    });
    expect(won).toMatchObject({ status: 200, outcome: 'processed' });
    expect(await inbox().get(traceId)).toMatchObject({ status: 'processed', type: 'deauth' });
    expect((await store().get(user_id))?.status).toBe('disconnected');
  });

  it('replays a failed delivery from its archived payload instead of the expired URL', async () => {
    const reference_id = uniqueRef();
    const user_id = uniqueUser();
    await deliver(depsWith(), authSuccess({ user: terraUser({ user_id, reference_id }) }));
    const payload = Buffer.from(JSON.stringify(deauth({ user: terraUser({ user_id, reference_id }) })));
    const traceId = `trace-${user_id}-replay`;
    // The copy that downloaded dies after archiving the payload; Terra's retry finds the URL expired.
    const crashing = depsWith({
      payloads: answering({ ok: true, body: payload }),
      afterStep: (step) => {
        if (step === 'claim') throw new Error('crash');
      },
    });
    expect(await deliver(crashing, notification, { traceId })).toMatchObject({ status: 500 });
    const expired = answering({ ok: false, retryable: false, reason: 'expired' });
    await deliver(depsWith({ payloads: expired }), notification, { traceId });
    const failed = await inbox().get(traceId);
    expect(failed).toMatchObject({ status: 'failed', outcome: 'payload_expired' });
    expect(failed?.payload_key).toBeDefined();

    const [replayed] = await replayExpired(traceId, expired);
    expect(replayed).toMatchObject({ outcome: 'processed', previous_status: 'failed', status: 'processed' });
    expect((await store().get(user_id))?.status).toBe('disconnected');
  });

  it.each(['planted where none was downloaded', 'edited after it was downloaded'])(
    'replays no payload file it did not download: one %s is ignored',
    async (how) => {
      const reference_id = uniqueRef();
      const user_id = uniqueUser();
      await deliver(depsWith(), authSuccess({ user: terraUser({ user_id, reference_id }) }));
      const traceId = `trace-${user_id}-forged`;
      if (how.startsWith('edited')) {
        // Downloaded (a permission change), then the copy dies; Terra's retry finds the URL expired.
        const real = Buffer.from(
          JSON.stringify(permissionChange({ user: terraUser({ user_id, reference_id }) })),
        );
        const crashing = depsWith({
          payloads: answering({ ok: true, body: real }),
          afterStep: (step) => {
            if (step === 'claim') throw new Error('crash');
          },
        });
        expect(await deliver(crashing, notification, { traceId })).toMatchObject({ status: 500 });
      }
      const expired = answering({ ok: false, retryable: false, reason: 'expired' });
      await deliver(depsWith({ payloads: expired }), notification, { traceId });
      const failed = await inbox().get(traceId);
      expect(failed).toMatchObject({ status: 'failed' });
      // Someone with the archive's disk puts a deauth of the user where a payload is or would be.
      const forged = JSON.stringify(deauth({ user: terraUser({ user_id, reference_id }) }));
      const key = failed?.payload_key ?? payloadKeyFor(failed?.archive_key ?? '');
      await new DirectoryArchive(archiveDir).put(key, Buffer.from(forged));

      await replayExpired(traceId, expired);
      expect((await store().get(user_id))?.status).toBe('active');
    },
  );

  it('records a downloaded payload that is not JSON as failed', async () => {
    const traceId = `trace-${uniqueUser()}`;
    const result = await deliver(
      depsWith({ payloads: answering({ ok: true, body: Buffer.from('<html>not json</html>') }) }),
      notification,
      { traceId },
    );
    expect(result.outcome).toBe('payload_failed');
    expect(await inbox().get(traceId)).toMatchObject({ status: 'failed', outcome: 'payload_malformed' });
  });
});
