import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type LocalStack, startLocalStack } from '#local/stack';
import { identify } from '#shared/webhooks/identify';
import { inboxOf } from '../helpers/local-stack.ts';
import { signedHeaders } from '../helpers/signing.ts';

/** The local adapter on a random port, spoken to with real HTTP requests. */
const SECRET = 'http-test-secret';
let stack: LocalStack;

beforeAll(async () => {
  const suffix = randomUUID().slice(0, 8);
  stack = await startLocalStack({
    port: 0,
    dataDir: mkdtempSync(join(tmpdir(), 'terra-local-')),
    signingSecret: SECRET,
    dynamoEndpoint: inject('dynamoEndpoint'),
    tables: { connectionsTable: `http-connections-${suffix}`, inboxTable: `http-inbox-${suffix}` },
    sandbox: { port: 0 },
  });
});
afterAll(async () => {
  await stack?.stop();
});

async function tokenFor(sub: string): Promise<string> {
  const response = await fetch(`${stack.apiUrl}/dev/token`, {
    method: 'POST',
    body: JSON.stringify({ sub }),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { token: string }).token;
}

async function connectionsOf(token: string, query = '') {
  const response = await fetch(`${stack.apiUrl}/connections${query}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return {
    status: response.status,
    body: (await response.json()) as { connections: Array<Record<string, unknown>> },
  };
}

function authPayload(user_id: string, reference_id: string) {
  return JSON.stringify({
    type: 'auth',
    status: 'success',
    user: { user_id, provider: 'OURA', scopes: 'daily,heartrate', reference_id, active: true },
  });
}

describe('local API over HTTP', () => {
  it('turns a signed webhook into a connection the caller sees in GET /connections', async () => {
    const sub = `alice-${randomUUID()}`;
    const body = authPayload('oura-user-1', sub);
    const delivered = await fetch(stack.webhookUrl, {
      method: 'POST',
      headers: signedHeaders(body, { secret: SECRET }),
      body,
    });
    expect(delivered.status).toBe(200);
    expect(await delivered.json()).toMatchObject({ received: true, outcome: 'processed' });

    const { status, body: listed } = await connectionsOf(await tokenFor(sub));
    expect(status).toBe(200);
    expect(listed.connections).toEqual([
      expect.objectContaining({
        user_id: 'oura-user-1',
        provider: 'OURA',
        status: 'active',
        scopes: ['daily', 'heartrate'],
      }),
    ]);
  });

  it('verifies a body API Gateway passes base64-encoded, over its exact bytes', async () => {
    const sub = `bob-${randomUUID()}`;
    const body = authPayload('oura-user-2', sub);
    const headers = {
      ...signedHeaders(body, { secret: SECRET }),
      'content-type': 'application/octet-stream',
    };
    const delivered = await fetch(stack.webhookUrl, { method: 'POST', headers, body });
    expect(delivered.status).toBe(200);
    expect((await connectionsOf(await tokenFor(sub))).body.connections).toHaveLength(1);
  });

  it('answers 401 to an unsigned webhook and shows nothing to anyone', async () => {
    const sub = `carol-${randomUUID()}`;
    const body = authPayload('oura-user-3', sub);
    const rejected = await fetch(stack.webhookUrl, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    });
    expect(rejected.status).toBe(401);
    expect((await connectionsOf(await tokenFor(sub))).body.connections).toEqual([]);
  });

  it('shows each caller only their own connections, filtered by status on request', async () => {
    const sub = `dave-${randomUUID()}`;
    for (const [user_id, type] of [
      ['dave-1', 'auth'],
      ['dave-2', 'auth'],
    ] as const) {
      const body = authPayload(user_id, sub).replace('"auth"', `"${type}"`);
      await fetch(stack.webhookUrl, {
        method: 'POST',
        headers: signedHeaders(body, { secret: SECRET }),
        body,
      });
    }
    const deauth = JSON.stringify({
      type: 'deauth',
      user: { user_id: 'dave-2', provider: 'OURA', reference_id: sub },
    });
    const t = Math.floor(Date.now() / 1000) + 1;
    await fetch(stack.webhookUrl, {
      method: 'POST',
      headers: signedHeaders(deauth, { secret: SECRET, timestamp: t }),
      body: deauth,
    });

    const token = await tokenFor(sub);
    const all = await connectionsOf(token);
    expect(all.body.connections.map((c) => [c.user_id, c.status]).sort()).toEqual([
      ['dave-1', 'active'],
      ['dave-2', 'disconnected'],
    ]);
    const active = await connectionsOf(token, '?status=active');
    expect(active.body.connections.map((c) => c.user_id)).toEqual(['dave-1']);
    expect((await connectionsOf(await tokenFor(`someone-else-${randomUUID()}`))).body.connections).toEqual(
      [],
    );
  });

  it('answers 503 with retry-after while another attempt holds the delivery, then applies it once', async () => {
    const sub = `erin-${randomUUID()}`;
    const body = authPayload(`oura-user-${randomUUID()}`, sub);
    const headers = signedHeaders(body, { secret: SECRET, traceId: `trace-${randomUUID()}` });
    // Another attempt's claim, under the id the receiver itself gives this delivery.
    const { facts } = identify({
      headers,
      body: Buffer.from(body),
      signed_at: Math.floor(Date.now() / 1000),
      received_at: Date.now(),
    });
    const inbox = inboxOf(stack);
    const other = await inbox.claim(facts);
    if (other.kind !== 'claimed') throw new Error(`the other attempt's claim came back ${other.kind}`);

    const busy = await fetch(stack.webhookUrl, { method: 'POST', headers, body });
    expect(busy.status).toBe(503);
    expect(busy.headers.get('retry-after')).toBe('5');
    expect(await busy.json()).toStrictEqual({
      error: { code: 'in_progress', message: 'This delivery is being processed; retry later.' },
    });
    expect((await connectionsOf(await tokenFor(sub))).body.connections).toEqual([]);

    // The other attempt gives up its lease: Terra's retry, a little later, applies the delivery.
    await inbox.release(facts.event_id, other.token);
    const retried = await fetch(stack.webhookUrl, { method: 'POST', headers, body });
    expect(retried.status).toBe(200);
    expect(retried.headers.get('retry-after')).toBeNull();
    expect(await retried.json()).toMatchObject({ received: true, outcome: 'processed' });
    expect((await connectionsOf(await tokenFor(sub))).body.connections).toHaveLength(1);
  });

  it('rejects GET /connections without a valid token and a bad status filter', async () => {
    expect((await fetch(`${stack.apiUrl}/connections`)).status).toBe(401);
    const forged = `${(await tokenFor('mallory')).slice(0, -4)}AAAA`;
    expect((await connectionsOf(forged)).status).toBe(401);
    const bad = await connectionsOf(await tokenFor('mallory'), '?status=sleeping');
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('status');
  });

  it('mints dev tokens for the identities the API accepts, and refuses the others saying why', async () => {
    const mint = (sub: string) =>
      fetch(`${stack.apiUrl}/dev/token`, { method: 'POST', body: JSON.stringify({ sub }) });
    for (const sub of ['José Müller', 'ana+terra@example.com', '山田 太郎']) {
      const response = await mint(sub);
      expect(response.status, sub).toBe(200);
      const { token } = (await response.json()) as { token: string };
      const listed = await connectionsOf(token);
      expect(listed.status, sub).toBe(200);
    }
    for (const [sub, reason] of [
      ['alice\u200b', /U\+200B/],
      ['alice\u0007', /U\+0007/],
      ['..', /only dots/],
      ['x'.repeat(257), /256 characters/],
    ] as const) {
      const response = await mint(sub);
      expect(response.status, JSON.stringify(sub)).toBe(400);
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('invalid_identity');
      expect(body.error.message).toMatch(reason);
    }
  });

  it('mints dev tokens only for a usable sub', async () => {
    const response = await fetch(`${stack.apiUrl}/dev/token`, { method: 'POST', body: '{"user":"x"}' });
    expect(response.status).toBe(400);
    expect((await fetch(`${stack.apiUrl}/nowhere`)).status).toBe(404);
  });
});
