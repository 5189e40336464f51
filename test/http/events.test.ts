import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localClient } from '#local/dynamodb';
import { startLocalPipeline } from '#local/pipeline';
import type { LocalStack } from '#local/stack';
import { ContractCheck, conformingTypes, expectContract } from '../helpers/event-contracts.ts';
import { connectAtSandbox, eventsFor, eventually, fireAtSandbox, settle } from '../helpers/events.ts';
import { AppUser, sandboxOf, startTestStack } from '../helpers/local-stack.ts';
import { signedHeaders } from '../helpers/signing.ts';
import { authSuccess, dataEvent, terraUser } from '../helpers/terra-fixtures.ts';

/**
 * The data the app connects wearables for, end to end in local mode: the webhook records it, DynamoDB
 * Local's streams carry the committed changes, the publisher (the code AWS runs on the same streams)
 * turns them into the app's events, and backfill asks the sandbox for history on connect.
 */
let stack: LocalStack;

beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});

const sandbox = () => sandboxOf(stack);

async function deliver(
  target: LocalStack,
  payload: unknown,
  traceId: string = randomUUID(),
  orderingMs?: number,
) {
  const body = JSON.stringify(payload);
  const response = await fetch(target.webhookUrl, {
    method: 'POST',
    headers: signedHeaders(body, {
      secret: target.signingSecret,
      traceId,
      ...(orderingMs === undefined ? {} : { orderingMs }),
    }),
    body,
  });
  return response.status;
}

/** The data requests the sandbox answered for a user: one terra-reference per request. */
const referencesFor = (user_id: string) =>
  new Set(
    sandbox()
      .deliveries()
      .filter((delivery) => delivery.user_id === user_id && delivery.terra_reference !== undefined)
      .map((delivery) => delivery.terra_reference),
  );

describe('connecting a wearable', () => {
  it('publishes the connection, asks Terra for its history once, and shows it complete', async () => {
    const user = new AppUser(stack);
    const user_id = await connectAtSandbox(stack, user.sub);
    await eventually(stack, async () => {
      const [connection] = await user.connections();
      expect(connection?.backfill?.status).toBe('complete');
    });

    const connected = eventsFor(stack, { user_id, type: 'terra.connection' });
    expect(connected.map((event) => [event.detail.status, event.detail.previous_status])).toEqual([
      ['active', null],
    ]);
    expect(connected[0]?.detail).toMatchObject({
      reference_id: user.sub,
      provider: 'GARMIN',
      id: expect.any(String),
    });

    const data = eventsFor(stack, { user_id, type: 'terra.data' });
    expect(data.map((event) => event.detail.type).sort()).toEqual(['activity', 'body', 'daily', 'sleep']);
    for (const event of data) {
      expect(event.detail).toMatchObject({
        reference_id: user.sub,
        provider: 'GARMIN',
        backfill: true,
        terra_reference: expect.any(String),
        archive: { bucket: stack.archiveDir, key: expect.stringMatching(new RegExp(`^users/${user_id}/`)) },
        bytes: expect.any(Number),
        data: expect.objectContaining({ user: expect.objectContaining({ user_id }) }),
      });
    }
    const done = eventsFor(stack, { user_id, type: 'terra.backfill' });
    expect(done.map((event) => [event.detail.type, event.detail.status, event.detail.received])).toEqual(
      expect.arrayContaining([
        ['activity', 'complete', 1],
        ['daily', 'complete', 1],
        ['sleep', 'complete', 1],
        ['body', 'complete', 1],
      ]),
    );
    expect(done).toHaveLength(4);
    const [connection] = await user.connections();
    expect(connection?.backfill).toMatchObject({
      status: 'complete',
      from: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/),
      to: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/),
    });
    expect(connection?.backfill?.requests).toHaveLength(4);
    expect(referencesFor(user_id).size).toBe(4);
  });

  it('asks for history once per Terra user, however often it becomes active again', async () => {
    const user = new AppUser(stack);
    const user_id = await connectAtSandbox(stack, user.sub);
    await eventually(stack, async () =>
      expect((await user.connections())[0]?.backfill?.status).toBe('complete'),
    );
    await fireAtSandbox(stack, user_id, 'connection_error');
    await settle(stack);
    // Terra says it is connected again (a repeated auth): active once more, the trigger fires again. Its
    // ordering time in ms, as Terra sends it: a signature time alone (whole seconds) may fall before the
    // error's within the same second, and the older event would rightly not win.
    expect(
      await deliver(
        stack,
        authSuccess({ user: terraUser({ user_id, reference_id: user.sub }) }),
        randomUUID(),
        Date.now() + 1_000,
      ),
    ).toBe(200);
    await settle(stack);
    expect(
      eventsFor(stack, { user_id, type: 'terra.connection' }).map((event) => event.detail.status),
    ).toEqual(['active', 'error', 'active']);
    expect(referencesFor(user_id).size).toBe(4);
  });
});

describe('data events', () => {
  it('resolve a payload without reference_id to the app user that owns its Terra user', async () => {
    const user = new AppUser(stack);
    const user_id = `own-${randomUUID()}`;
    expect(await deliver(stack, authSuccess({ user: terraUser({ user_id, reference_id: user.sub }) }))).toBe(
      200,
    );
    expect(
      await deliver(stack, dataEvent('sleep', { user: terraUser({ user_id, reference_id: null }) })),
    ).toBe(200);
    await eventually(stack, () => {
      const data = eventsFor(stack, { user_id, type: 'terra.data' }).filter(
        (event) => event.detail.backfill === false,
      );
      expect(data.map((event) => event.detail.reference_id)).toEqual([user.sub]);
    });
  });

  it("attribute a payload to the record's app user, whatever app user the payload itself names", async () => {
    const user = new AppUser(stack);
    const user_id = `claim-${randomUUID()}`;
    expect(await deliver(stack, authSuccess({ user: terraUser({ user_id, reference_id: user.sub }) }))).toBe(
      200,
    );
    expect(
      await deliver(
        stack,
        dataEvent('sleep', { user: terraUser({ user_id, reference_id: 'someone-else' }) }),
      ),
    ).toBe(200);
    await eventually(stack, () => {
      const data = eventsFor(stack, { user_id, type: 'terra.data' }).filter(
        (event) => event.detail.backfill === false,
      );
      expect(data.map((event) => event.detail.reference_id)).toEqual([user.sub]);
    });
  });

  it('give every copy of a delivery the same one event', async () => {
    const user_id = `dup-${randomUUID()}`;
    expect(await deliver(stack, authSuccess({ user: terraUser({ user_id }) }))).toBe(200);
    const traceId = randomUUID();
    const payload = dataEvent('daily', { user: terraUser({ user_id }) });
    for (let copy = 0; copy < 3; copy++) expect(await deliver(stack, payload, traceId)).toBe(200);
    await eventually(stack, () => {
      const copies = eventsFor(stack, { user_id, type: 'terra.data' }).filter(
        (event) => event.detail.event_id === traceId,
      );
      expect(copies).toHaveLength(1);
    });
  });

  it('give a signed delivery resent under other trace ids (they are not signed) one event id', async () => {
    const user_id = `replay-${randomUUID()}`;
    expect(await deliver(stack, authSuccess({ user: terraUser({ user_id }) }))).toBe(200);
    const body = JSON.stringify(dataEvent('activity', { user: terraUser({ user_id }) }));
    // One signature, as captured once, sent again with a trace id of the sender's choosing.
    const captured = signedHeaders(body, { secret: stack.signingSecret, traceId: 'first' });
    const traceIds = [randomUUID(), randomUUID(), randomUUID()];
    for (const traceId of traceIds) {
      const response = await fetch(stack.webhookUrl, {
        method: 'POST',
        headers: { ...captured, 'x-terra-trace-id': traceId },
        body,
      });
      expect(response.status).toBe(200);
    }
    await eventually(stack, () => {
      const events = eventsFor(stack, { user_id, type: 'terra.data' });
      expect(events.map((event) => event.detail.event_id).sort()).toEqual([...traceIds].sort());
      expect(new Set(events.map((event) => event.detail.id)).size).toBe(1);
    });
  });

  it('arrive downloaded when Terra sends a large payload as an s3_payload, archived next to its notification', async () => {
    sandbox().settings({ s3PayloadThresholdBytes: 20_000 });
    try {
      const user = new AppUser(stack);
      const user_id = await connectAtSandbox(stack, user.sub, 'OURA');
      await settle(stack);
      const traceId = await fireAtSandbox(stack, user_id, 'activity', { bytes: 60_000 });
      await eventually(stack, () => {
        const [event] = eventsFor(stack, { user_id, type: 'terra.data' }).filter(
          (e) => e.detail.event_id === traceId,
        );
        expect(event?.detail).toMatchObject({
          type: 'activity',
          backfill: false,
          archive: { key: expect.stringMatching(new RegExp(`^users/${user_id}/.*\\.payload\\.json$`)) },
        });
        expect(Number(event?.detail.bytes)).toBeGreaterThan(60_000);
        expect(event?.detail.data).toMatchObject({
          type: 'activity',
          user: expect.objectContaining({ user_id }),
        });
      });
      expect(
        sandbox()
          .deliveries()
          .find((delivery) => delivery.trace_id === traceId)?.type,
      ).toBe('s3_payload');
    } finally {
      sandbox().settings({ s3PayloadThresholdBytes: 1_000_000 });
    }
  });
});

describe('large historical requests', () => {
  let large: LocalStack;
  beforeAll(async () => {
    // Over a month: Terra (and the sandbox) answer in chunks, announced by large_request_* events.
    large = await startTestStack({
      env: { BACKFILL_DAYS: '45', BACKFILL_TYPES: 'daily,sleep' },
      sandbox: { chaos: { duplicateRate: 0.5, reorderWindowMs: 150 } },
    });
  });
  afterAll(async () => {
    await large?.stop();
  });

  it('count every chunk once, in any order, duplicated and interleaved across two requests, until complete', async () => {
    const user = new AppUser(large);
    await connectAtSandbox(large, user.sub);
    await eventually(
      large,
      async () => expect((await user.connections())[0]?.backfill?.status).toBe('complete'),
      80,
    );
    const [connection] = await user.connections();
    const requests = connection?.backfill?.requests ?? [];
    expect(requests.map((request) => request.type)).toEqual(['daily', 'sleep']);
    for (const request of requests) {
      expect(request.expected).toBeGreaterThan(1);
      expect(request.received).toBe(request.expected);
      expect(request.status).toBe('complete');
    }
    const completions = eventsFor(large, { reference_id: user.sub, type: 'terra.backfill' });
    expect(completions).toHaveLength(2);
  });
});

describe('rate limits at Terra', () => {
  it('retry a backfill request Terra answers 429, and finish it', async () => {
    sandbox().settings({
      fault: { kind: 'status', status: 429, retryAfterSeconds: 1, times: 2, paths: ['/daily'] },
    });
    const user = new AppUser(stack);
    await connectAtSandbox(stack, user.sub, 'WITHINGS');
    await eventually(
      stack,
      async () => expect((await user.connections())[0]?.backfill?.status).toBe('complete'),
      80,
    );
    expect(sandbox().settings().fault).toBeUndefined();
  });
});

describe('the outbox', () => {
  it('publishes a change that committed while the publisher was down, and nothing twice', async () => {
    // No backfill: its requests would commit while the publisher is down too, at their own pace.
    const own = await startTestStack({ env: { BACKFILL_DAYS: '0' } });
    try {
      const user_id = `down-${randomUUID()}`;
      expect(await deliver(own, authSuccess({ user: terraUser({ user_id }) }))).toBe(200);
      await eventually(own, () =>
        expect(eventsFor(own, { user_id, type: 'terra.connection' })).toHaveLength(1),
      );
      await own.pipeline.stop();
      // Committed with nobody publishing: the stream keeps it.
      expect(await deliver(own, dataEvent('body', { user: terraUser({ user_id }) }))).toBe(200);
      const admin = localClient(own.dynamoEndpoint);
      const contracts = new ContractCheck();
      const restarted = await startLocalPipeline({
        admin,
        env: own.env,
        dataDir: own.dataDir,
        onEvent: contracts.check,
      });
      try {
        for (let i = 0; i < 40 && restarted.feed().length === 0; i++) await restarted.settled();
        // A few rounds more: a second copy of anything would have had time to arrive.
        for (let i = 0; i < 3; i++) await restarted.settled();
        const types = restarted.feed().map((entry) => entry.envelope['detail-type']);
        // The auth's event went out before the stop: from the checkpoint on, only what was missed.
        expect(types).toEqual(['terra.data']);
        contracts.assert();
      } finally {
        await restarted.stop();
        admin.destroy();
      }
    } finally {
      await own.stop();
    }
  });
});

describe('EVENT_TARGET_URL', () => {
  let receiver: Server;
  let received: Array<Record<string, unknown>>;
  let refuse = 0;
  let target: LocalStack;

  beforeAll(async () => {
    received = [];
    receiver = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      request.on('end', () => {
        if (refuse > 0) {
          refuse--;
          response.writeHead(503).end();
          return;
        }
        received.push(JSON.parse(body) as Record<string, unknown>);
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((done) => receiver.listen(0, '127.0.0.1', () => done()));
    target = await startTestStack({
      eventTargetUrl: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/events`,
    });
  });
  afterAll(async () => {
    await target?.stop();
    await new Promise((done) => receiver.close(done));
  });

  it("POSTs each event as EventBridge's envelope, retrying a target that fails, without holding up the feed", async () => {
    // Three refusals: the target gets the event only after backoffs of 0.5, 1 and 2 s.
    refuse = 3;
    const user_id = `target-${randomUUID()}`;
    expect(
      await deliver(target, authSuccess({ user: terraUser({ user_id, reference_id: 'team-app-user' }) })),
    ).toBe(200);
    const forUser = (entry: Record<string, unknown>) =>
      (entry.detail as Record<string, unknown>)?.user_id === user_id;
    // The feed has it while the target is still refusing: a failing target holds nothing up. (Polled
    // directly: the helpers' settling waits for the target too.)
    for (let i = 0; i < 60 && eventsFor(target, { user_id, type: 'terra.connection' }).length === 0; i++)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(eventsFor(target, { user_id, type: 'terra.connection' })).toHaveLength(1);
    expect(refuse).toBeGreaterThan(0);
    expect(received.some(forUser)).toBe(false);
    await eventually(target, () => {
      const envelope = received.find(forUser);
      expectContract(envelope);
      expect(envelope).toMatchObject({
        version: '0',
        id: expect.any(String),
        'detail-type': 'terra.connection',
        source: 'terra-connect',
        account: expect.any(String),
        time: expect.any(String),
        region: expect.any(String),
        resources: [],
        detail: { user_id, reference_id: 'team-app-user', status: 'active', previous_status: null },
      });
    });
    expect(refuse).toBe(0);
    expect(eventsFor(target, { user_id, type: 'terra.connection' })).toHaveLength(1);
  });
});

describe('the event contracts', () => {
  it('held every event published here to its JSON Schema: connection, data and backfill events alike', () => {
    expect([...conformingTypes].sort()).toEqual(['terra.backfill', 'terra.connection', 'terra.data']);
  });
});
