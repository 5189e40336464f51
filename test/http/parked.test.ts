import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '#local/stack';
import { createDocumentClient } from '#shared/store/client';
import type { DeliveryStore } from '#shared/store/deliveries';
import { parkedUsers } from '../helpers/dynamo.ts';
import { eventsFor, eventually } from '../helpers/events.ts';
import { AppUser, inboxOf, startTestStack } from '../helpers/local-stack.ts';
import { signedHeaders } from '../helpers/signing.ts';
import { authSuccess, dataEvent, terraUser } from '../helpers/terra-fixtures.ts';

/**
 * Parked deliveries through the whole local stack (docs/decisions/0020): a Terra user's data that named
 * no app user waits; once an auth names the owner, the publisher applies it from the connections stream and
 * the app hears of it as of any data delivery, under that owner.
 */
let stack: LocalStack;
let inbox: DeliveryStore;

beforeAll(async () => {
  stack = await startTestStack();
  inbox = inboxOf(stack);
});
afterAll(async () => {
  await stack?.stop();
});

async function deliver(payload: unknown, traceId: string): Promise<{ status: number; outcome?: string }> {
  const body = JSON.stringify(payload);
  const response = await fetch(stack.webhookUrl, {
    method: 'POST',
    headers: signedHeaders(body, { secret: stack.signingSecret, traceId }),
    body,
  });
  return { status: response.status, ...((await response.json()) as { outcome?: string }) };
}

describe('parked deliveries', () => {
  it('announce their data to the owner once an auth names it, and only then', async () => {
    const user = new AppUser(stack);
    const user_id = `parked-${crypto.randomUUID()}`;
    const parked = Array.from({ length: 20 }, (_, i) => `p-${user_id}-${i}`);
    for (const traceId of parked) {
      expect(
        await deliver(dataEvent('sleep', { user: terraUser({ user_id, reference_id: null }) }), traceId),
      ).toMatchObject({ status: 200, outcome: 'parked' });
    }
    expect(await user.connections()).toEqual([]);
    expect(eventsFor(stack, { user_id, type: 'terra.data' })).toEqual([]);

    expect(
      await deliver(authSuccess({ user: terraUser({ user_id, reference_id: user.sub }) }), `a-${user_id}`),
    ).toMatchObject({ status: 200, outcome: 'processed' });
    await eventually(stack, async () => {
      const data = eventsFor(stack, { user_id, type: 'terra.data' });
      expect(data.map((event) => event.detail.event_id).sort()).toEqual([...parked].sort());
      expect(new Set(data.map((event) => event.detail.reference_id))).toEqual(new Set([user.sub]));
    });
    for (const traceId of parked) {
      expect(await inbox.get(traceId)).toMatchObject({
        status: 'processed',
        data: true,
        reference_id: user.sub,
      });
    }
    const doc = createDocumentClient({ dynamoEndpoint: stack.dynamoEndpoint });
    expect(await parkedUsers(doc, stack.tables.inboxTable)).not.toContain(user_id);
    expect((await user.connections()).map((connection) => connection.user_id)).toEqual([user_id]);
  });
});
