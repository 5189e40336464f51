import { expect } from 'vitest';
import type { FeedEntry } from '#local/pipeline';
import type { LocalStack } from '#local/stack';

/** Waits until the sandbox has nothing left to deliver and the local publisher has caught up, twice over. */
export async function settle(stack: LocalStack, rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    await stack.sandbox?.idle();
    await stack.pipeline.settled();
  }
}

/** The feed's events about one Terra user (or app user), optionally of one detail type. */
export function eventsFor(
  stack: LocalStack,
  filter: { user_id?: string; reference_id?: string; type?: string },
) {
  return stack.pipeline
    .feed()
    .map((entry: FeedEntry) => ({
      type: entry.envelope['detail-type'],
      detail: entry.envelope.detail as Record<string, unknown>,
    }))
    .filter(
      (event) =>
        (filter.type === undefined || event.type === filter.type) &&
        (filter.user_id === undefined || event.detail.user_id === filter.user_id) &&
        (filter.reference_id === undefined || event.detail.reference_id === filter.reference_id),
    );
}

/** Polls until `check` passes (its expectations hold), settling the stack between tries. */
export async function eventually(
  stack: LocalStack,
  check: () => Promise<void> | void,
  tries = 40,
): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      await check();
      return;
    } catch (error) {
      if (i >= tries) throw error;
      await settle(stack, 1);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** Completes a connection at the sandbox as if the user approved it; answers the Terra user id. */
export async function connectAtSandbox(
  stack: LocalStack,
  reference_id: string,
  provider = 'GARMIN',
  account?: string,
) {
  const response = await fetch(`${stack.sandbox?.url}/sandbox/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ reference_id, provider, ...(account ? { account } : {}) }),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { user_id: string }).user_id;
}

export async function fireAtSandbox(stack: LocalStack, user_id: string, type: string, body?: unknown) {
  const response = await fetch(`${stack.sandbox?.url}/sandbox/users/${user_id}/events/${type}`, {
    method: 'POST',
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { trace_id: string }).trace_id;
}
