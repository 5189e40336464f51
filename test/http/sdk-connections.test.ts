import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '#local/stack';
import type { DeliveryStore } from '#shared/store/deliveries';
import { AppUser, inboxOf, sandboxOf, startTestStack } from '../helpers/local-stack.ts';

/**
 * SDK connections bound to the app user who asked for the token (docs/architecture.md, "SDK connections"):
 * Terra's mobile SDK takes the `reference_id` from the device, so an SDK-only provider's auth names an app
 * user only while that user holds a live claim from `POST /sdk-token`. The sandbox plays the SDK's
 * `initConnection` (`POST /sandbox/users` with an SDK-only provider) and delivers Terra's signed `auth`.
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

const sandbox = () => sandboxOf(stack);

/** A device runs `initConnection` claiming `reference_id`; Terra creates the user and sends `auth`. */
async function connectFromDevice(reference_id: string, provider = 'APPLE'): Promise<string> {
  const response = await fetch(`${sandbox().url}/sandbox/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ reference_id, provider, account: `device-${reference_id}-${provider}` }),
  });
  expect(response.status).toBe(200);
  const { user_id } = (await response.json()) as { user_id: string };
  await sandbox().idle();
  return user_id;
}

/** Our verdict on the `auth` Terra delivered for this user. */
async function authDeliveryOf(user_id: string) {
  const auth = sandbox()
    .deliveries()
    .find((delivery) => delivery.type === 'auth' && delivery.user_id === user_id);
  expect(auth, `the sandbox delivered an auth for ${user_id}`).toBeDefined();
  return inbox.get(auth?.trace_id ?? '');
}

describe('SDK connections', () => {
  it('parks an SDK auth naming an app user who asked for no token; that user does not list it', async () => {
    const alice = new AppUser(stack);
    const user_id = await connectFromDevice(alice.sub);
    expect(await authDeliveryOf(user_id)).toMatchObject({ status: 'parked', outcome: 'unattributed' });
    expect((await authDeliveryOf(user_id))?.reference_id).toBeUndefined();
    expect(await alice.connections()).toEqual([]);
  });

  it('applies an SDK auth naming the app user who minted a token, and lists it for them', async () => {
    const alice = new AppUser(stack);
    expect((await alice.call('POST', '/sdk-token')).status).toBe(201);
    const user_id = await connectFromDevice(alice.sub);
    expect(await authDeliveryOf(user_id)).toMatchObject({ status: 'processed' });
    expect(await alice.connections()).toEqual([
      expect.objectContaining({ user_id, provider: 'APPLE', status: 'active' }),
    ]);
  });

  it("does not let one app user's claim through for an auth naming another", async () => {
    const alice = new AppUser(stack);
    const bob = new AppUser(stack);
    expect((await alice.call('POST', '/sdk-token')).status).toBe(201);
    const user_id = await connectFromDevice(bob.sub, 'SAMSUNG');
    expect(await authDeliveryOf(user_id)).toMatchObject({ status: 'parked' });
    expect(await bob.connections()).toEqual([]);
    expect(await alice.connections()).toEqual([]);
  });

  it("does not make an app user the owner through the SDK user's data either", async () => {
    const alice = new AppUser(stack);
    const user_id = await connectFromDevice(alice.sub);
    const fired = await fetch(`${sandbox().url}/sandbox/users/${user_id}/events/activity`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(fired.status).toBe(200);
    await sandbox().idle();
    expect(await alice.connections()).toEqual([]);
  });

  it('does not adopt an unclaimed SDK user on refresh or a callback; after a token, refresh does', async () => {
    const alice = new AppUser(stack);
    const user_id = await connectFromDevice(alice.sub);
    // Terra lists the user under alice (the device said so), but nothing of alice's vouches for it.
    expect(await alice.connections('?refresh=true')).toEqual([]);
    const callback = await fetch(
      `${stack.apiUrl}/callbacks/terra/success?user_id=${user_id}&resource=APPLE&reference_id=${alice.sub}`,
      { redirect: 'manual' },
    );
    expect(callback.status).toBe(302);
    expect(await alice.connections()).toEqual([]);

    expect((await alice.call('POST', '/sdk-token')).status).toBe(201);
    expect(await alice.connections('?refresh=true')).toEqual([
      expect.objectContaining({ user_id, provider: 'APPLE', status: 'active' }),
    ]);
  });
});
