import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTerraConnectClient, ok, TerraConnectError } from '#client/index';
import type { LocalStack } from '#local/stack';
import type { RouteKey } from '#shared/handlers/manifest';
import { OPERATIONS, routeKey } from '#shared/http/openapi';
import { ROUTES } from '#shared/http/routes';
import { connectAtSandbox, eventually } from '../helpers/events.ts';
import { sandboxOf, startTestStack } from '../helpers/local-stack.ts';
import { signedHeaders } from '../helpers/signing.ts';
import { authSuccess, terraUser } from '../helpers/terra-fixtures.ts';

/**
 * Real answers of the local stack, route by route, held against the OpenAPI document's description of
 * them: each status must be one the document lists for that route, each body must parse under that
 * status's response schema (strict: a field the document lacks fails), each documented header must be
 * there. The typed client is exercised against the same stack.
 */
let stack: LocalStack;

beforeAll(async () => {
  stack = await startTestStack({
    env: {
      TERRA_TIMEOUT_MS: '1000',
      TERRA_DEADLINE_MS: '2500',
      PROVIDERS_CACHE_SECONDS: '0',
      DELETION_GRACE_SECONDS: '1',
      DELETION_BUDGET_MS: '2000',
    },
  });
});
afterAll(async () => {
  await stack?.stop();
});
afterEach(() => {
  stack.sandbox?.settings({ fault: undefined });
});

/** Every (route, status) a test met, for the coverage check at the end. */
const met = new Map<string, Set<number>>();

async function tokenFor(sub: string): Promise<string> {
  const response = await fetch(`${stack.apiUrl}/dev/token`, {
    method: 'POST',
    body: JSON.stringify({ sub }),
  });
  return ((await response.json()) as { token: string }).token;
}

/** One request to one route of ROUTES, its answer checked against the document. */
async function call(
  key: RouteKey,
  request: {
    path?: string;
    token?: string;
    body?: unknown;
    raw?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<{ status: number; body: unknown; headers: Headers }> {
  const [method = '', template = ''] = key.split(' ');
  const response = await fetch(`${stack.apiUrl}${request.path ?? template}`, {
    method,
    redirect: 'manual',
    headers: {
      ...(request.token ? { authorization: `Bearer ${request.token}` } : {}),
      ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...request.headers,
    },
    ...(request.raw !== undefined
      ? { body: request.raw }
      : request.body === undefined
        ? {}
        : { body: JSON.stringify(request.body) }),
  });
  const text = await response.text();
  const answer = OPERATIONS[key]?.answers[response.status];
  expect(
    answer,
    `${key} answered ${response.status} (${text}), which openapi.json does not list`,
  ).toBeDefined();
  const body: unknown = text === '' ? undefined : JSON.parse(text);
  if (answer?.body) {
    const parsed = answer.body.safeParse(body);
    expect(parsed.error?.issues ?? [], `${key} ${response.status}: ${text}`).toEqual([]);
  } else expect(text, `${key} ${response.status} has no body in openapi.json`).toBe('');
  if (answer?.headers) {
    const parsed = answer.headers.safeParse(Object.fromEntries(response.headers));
    expect(parsed.error?.issues ?? [], `${key} ${response.status}: documented headers`).toEqual([]);
  }
  met.set(key, (met.get(key) ?? new Set()).add(response.status));
  return { status: response.status, body, headers: response.headers };
}

const errorCode = (body: unknown) => (body as { error?: { code?: string } }).error?.code;

describe('the app routes', () => {
  it('POST /sessions: 201, and the route wrapper’s 400, 413 and 415, and the authorizer’s 401', async () => {
    const token = await tokenFor(`sessions-${randomUUID()}`);
    expect((await call('POST /sessions', { token, body: { providers: ['GARMIN'] } })).status).toBe(201);
    const invalid = await call('POST /sessions', { token, body: { providers: 'GARMIN' } });
    expect([invalid.status, errorCode(invalid.body)]).toEqual([400, 'invalid_body']);
    const large = await call('POST /sessions', {
      token,
      raw: JSON.stringify({ language: 'x'.repeat(70_000) }),
    });
    expect([large.status, errorCode(large.body)]).toEqual([413, 'payload_too_large']);
    const text = await call('POST /sessions', {
      token,
      raw: '{}',
      headers: { 'content-type': 'text/plain' },
    });
    expect([text.status, errorCode(text.body)]).toEqual([415, 'unsupported_media_type']);
    const anonymous = await call('POST /sessions', { body: {} });
    expect([anonymous.status, anonymous.body]).toEqual([401, { message: 'Unauthorized' }]);
  });

  it('POST /connections: 201, and 400 for an unknown or SDK-only provider', async () => {
    const token = await tokenFor(`connect-${randomUUID()}`);
    expect((await call('POST /connections', { token, body: { provider: 'GARMIN' } })).status).toBe(201);
    const unknown = await call('POST /connections', { token, body: { provider: 'NOPE' } });
    expect(errorCode(unknown.body)).toBe('unknown_provider');
    const sdkOnly = await call('POST /connections', { token, body: { provider: 'APPLE' } });
    expect(errorCode(sdkOnly.body)).toBe('sdk_only_provider');
  });

  it('GET /connections: 200 with a connection’s backfill, and 400 for a bad query', async () => {
    const sub = `list-${randomUUID()}`;
    const token = await tokenFor(sub);
    await connectAtSandbox(stack, sub);
    await eventually(stack, async () => {
      const { body } = await call('GET /connections', { token });
      expect((body as { connections: Array<{ backfill?: unknown }> }).connections).toEqual([
        expect.objectContaining({ status: 'active', backfill: expect.any(Object) }),
      ]);
    });
    const bad = await call('GET /connections', { token, path: '/connections?status=asleep' });
    expect([bad.status, errorCode(bad.body)]).toEqual([400, 'invalid_query']);
  });

  it('DELETE /connections/{user_id}: 204 for the caller’s, 404 for another’s', async () => {
    const sub = `disconnect-${randomUUID()}`;
    const token = await tokenFor(sub);
    const user_id = await connectAtSandbox(stack, sub);
    await eventually(stack, async () => {
      expect((await call('GET /connections', { token })).body).toMatchObject({ connections: [{ user_id }] });
    });
    const key: RouteKey = 'DELETE /connections/{user_id}';
    expect((await call(key, { token, path: `/connections/${user_id}` })).status).toBe(204);
    const other = await call(key, {
      token: await tokenFor(`other-${randomUUID()}`),
      path: `/connections/${user_id}`,
    });
    expect([other.status, errorCode(other.body)]).toEqual([404, 'not_found']);
  });

  it('GET /providers: 200, and 504 when Terra does not answer in time', async () => {
    const token = await tokenFor(`providers-${randomUUID()}`);
    expect((await call('GET /providers', { token })).status).toBe(200);
    sandboxOf(stack).settings({ fault: { kind: 'delay', ms: 5_000, paths: ['/integrations/detailed'] } });
    expect((await call('GET /providers', { token })).status).toBe(504);
  });

  it('POST /sdk-token: 201, and 502 when Terra fails', async () => {
    const token = await tokenFor(`sdk-${randomUUID()}`);
    expect((await call('POST /sdk-token', { token })).status).toBe(201);
    sandboxOf(stack).settings({ fault: { kind: 'status', status: 503, paths: ['/auth/generateAuthToken'] } });
    expect((await call('POST /sdk-token', { token })).status).toBe(502);
  });

  it('DELETE /me: 204 with nothing to delete, 202 with the deletion otherwise; GET /me/deletion: 404, then 200', async () => {
    const empty = await tokenFor(`empty-${randomUUID()}`);
    expect((await call('GET /me/deletion', { token: empty })).status).toBe(404);
    expect((await call('DELETE /me', { token: empty })).status).toBe(204);

    const sub = `delete-${randomUUID()}`;
    const token = await tokenFor(sub);
    await connectAtSandbox(stack, sub);
    await eventually(stack, async () => {
      expect((await call('GET /connections', { token })).body).toMatchObject({
        connections: [{ status: 'active' }],
      });
    });
    // The last sweep waits out the grace period, so the request cannot finish it.
    expect((await call('DELETE /me', { token })).status).toBe(202);
    expect((await call('GET /me/deletion', { token })).status).toBe(200);
  });
});

describe('the routes Terra calls', () => {
  it('GET /callbacks/terra/{outcome}: 302 to a configured target, whatever it is sent', async () => {
    const key: RouteKey = 'GET /callbacks/terra/{outcome}';
    const success = await call(key, {
      path: `/callbacks/terra/success?redirect=web&user_id=${randomUUID()}`,
    });
    const failure = await call(key, { path: '/callbacks/terra/failure?redirect=web&resource=GARMIN' });
    const forged = await call(key, { path: '/callbacks/terra/other' });
    for (const answer of [success, failure, forged]) {
      expect(answer.status).toBe(302);
      expect(answer.headers.get('location')).toMatch(/\/result\?outcome=failure/);
    }
  });

  it('POST /webhooks/terra: 200 for each outcome it meets, 400 malformed, 401 rejected and stale', async () => {
    const key: RouteKey = 'POST /webhooks/terra';
    const secret = stack.signingSecret;
    const body = JSON.stringify(
      authSuccess({ user: terraUser({ user_id: randomUUID(), reference_id: `hook-${randomUUID()}` }) }),
    );
    const traceId = randomUUID();
    const first = await call(key, { raw: body, headers: signedHeaders(body, { secret, traceId }) });
    expect(first.body).toMatchObject({ received: true, outcome: 'processed', event_id: traceId });
    const again = await call(key, { raw: body, headers: signedHeaders(body, { secret, traceId }) });
    expect(again.body).toMatchObject({ outcome: 'duplicate' });
    const ping = JSON.stringify({ type: 'healthcheck' });
    expect((await call(key, { raw: ping, headers: signedHeaders(ping, { secret }) })).body).toMatchObject({
      outcome: 'ignored',
    });

    const malformed = await call(key, { raw: '{nope', headers: signedHeaders('{nope', { secret }) });
    expect([malformed.status, errorCode(malformed.body)]).toEqual([400, 'malformed']);
    const forged = await call(key, { raw: body, headers: signedHeaders(body, { secret: 'not-the-secret' }) });
    expect([forged.status, errorCode(forged.body)]).toEqual([401, 'rejected']);
    const old = signedHeaders(body, { secret, timestamp: Math.floor(Date.now() / 1000) - 3_600 });
    const stale = await call(key, { raw: body, headers: old });
    expect([stale.status, errorCode(stale.body)]).toEqual([401, 'stale']);
  });
});

describe('GET /openapi.json', () => {
  it('serves the checked-in document', async () => {
    const response = await fetch(`${stack.apiUrl}/openapi.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.text()).toBe(readFileSync(join(import.meta.dirname, '../../openapi.json'), 'utf8'));
  });
});

describe('the typed client', () => {
  it('sends the token it is given on every call, asking for it each time', async () => {
    const tokens = [await tokenFor(`client-a-${randomUUID()}`), await tokenFor(`client-b-${randomUUID()}`)];
    let asked = 0;
    const api = createTerraConnectClient({ baseUrl: stack.apiUrl, token: () => tokens[asked++ % 2] ?? '' });
    const created = ok(await api.POST('/connections', { body: { provider: 'GARMIN' } })).data;
    const [first, second] = [
      ok(await api.GET('/connections')).data.connections,
      ok(await api.GET('/connections')).data.connections,
    ];
    // The first token's user made the connection; the second sees none.
    expect(asked).toBe(3);
    expect(first.map((connection) => connection.user_id)).toEqual([]);
    expect(second.map((connection) => connection.user_id)).toEqual([created.user_id]);
  });

  it('sends the token only to its own origin: a call given another baseUrl goes without it', async () => {
    const sent: Request[] = [];
    const api = createTerraConnectClient({
      baseUrl: 'https://api.example.test',
      token: 'the-users-token',
      fetch: async (request) => {
        sent.push(request);
        return Response.json({ providers: [] });
      },
    });
    await api.GET('/providers');
    await api.GET('/providers', { baseUrl: 'https://elsewhere.example.test' });
    await api.GET('/providers', { baseUrl: 'https://api.example.test/' });
    expect(sent.map((request) => [request.url, request.headers.get('authorization')])).toEqual([
      ['https://api.example.test/providers', 'Bearer the-users-token'],
      ['https://elsewhere.example.test/providers', null],
      ['https://api.example.test/providers', 'Bearer the-users-token'],
    ]);
  });

  it('throws our error codes and API Gateway’s answers as one error type', async () => {
    const api = createTerraConnectClient({
      baseUrl: stack.apiUrl,
      token: await tokenFor(`c-${randomUUID()}`),
    });
    const missing = await api.DELETE('/connections/{user_id}', { params: { path: { user_id: 'not-mine' } } });
    expect(() => ok(missing)).toThrow(expect.objectContaining({ status: 404, code: 'not_found' }));
    const signedOut = createTerraConnectClient({ baseUrl: stack.apiUrl, token: 'not-a-jwt' });
    const refused = await signedOut.GET('/providers');
    expect(() => ok(refused)).toThrow(TerraConnectError);
    expect(() => ok(refused)).toThrow(
      expect.objectContaining({ status: 401, code: 'unauthorized', message: 'Unauthorized' }),
    );
  });
});

describe('coverage', () => {
  // Last in the file: the tests above run first, in order.
  it('met every route, and every documented error shape of the route wrapper, the authorizer and the webhook', () => {
    for (const route of ROUTES) expect(met.get(routeKey(route)), routeKey(route)).toBeDefined();
    const statuses = new Set([...met.values()].flatMap((set) => [...set]));
    expect([...statuses].sort()).toEqual(
      expect.arrayContaining([200, 201, 202, 204, 302, 400, 401, 404, 413, 415, 502, 504]),
    );
  });
});
