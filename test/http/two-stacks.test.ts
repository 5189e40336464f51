import { randomUUID } from 'node:crypto';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '#local/stack';
import { createDocumentClient } from '#shared/store/client';
import { AppUser, startTestStack } from '../helpers/local-stack.ts';
import { signedHeaders } from '../helpers/signing.ts';
import { authSuccess, terraUser } from '../helpers/terra-fixtures.ts';

/**
 * Handlers are built from the configuration each stack hands them, never from process.env, so two
 * local stacks in one process keep to their own tables, secrets and archives.
 */
let one: LocalStack;
let two: LocalStack;

beforeAll(async () => {
  [one, two] = await Promise.all([
    startTestStack({ signingSecret: 'secret-one' }),
    startTestStack({ signingSecret: 'secret-two' }),
  ]);
});
afterAll(async () => {
  await Promise.all([one?.stop(), two?.stop()]);
});

async function deliverTo(stack: LocalStack, user_id: string, reference_id: string) {
  const body = JSON.stringify(authSuccess({ user: terraUser({ user_id, reference_id }) }));
  const response = await fetch(stack.webhookUrl, {
    method: 'POST',
    headers: signedHeaders(body, { secret: stack.signingSecret }),
    body,
  });
  return response.status;
}

async function userIdsIn(stack: LocalStack): Promise<string[]> {
  const doc = createDocumentClient({ dynamoEndpoint: stack.dynamoEndpoint });
  const { Items } = await doc.send(new ScanCommand({ TableName: stack.tables.connectionsTable }));
  doc.destroy();
  return (Items ?? []).map((item) => String(item.user_id));
}

describe('two local stacks in one process', () => {
  it('each writes only its own tables', async () => {
    const first = `one-${randomUUID()}`;
    const second = `two-${randomUUID()}`;
    expect(await deliverTo(one, first, 'alice')).toBe(200);
    expect(await deliverTo(two, second, 'alice')).toBe(200);
    expect(await userIdsIn(one)).toEqual([first]);
    expect(await userIdsIn(two)).toEqual([second]);
  });

  it('each checks signatures with its own secret', async () => {
    const body = JSON.stringify(authSuccess({ user: terraUser({ user_id: `x-${randomUUID()}` }) }));
    const response = await fetch(two.webhookUrl, {
      method: 'POST',
      headers: signedHeaders(body, { secret: one.signingSecret }),
      body,
    });
    expect(response.status).toBe(401);
  });

  it("each serves its own app users' connections", async () => {
    const user = new AppUser(one);
    const user_id = `mine-${randomUUID()}`;
    expect(await deliverTo(one, user_id, user.sub)).toBe(200);
    expect((await user.connections()).map((c) => c.user_id)).toEqual([user_id]);
    const sameNameElsewhere = new AppUser(two, user.sub);
    expect(await sameNameElsewhere.connections()).toEqual([]);
  });
});
