import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  retryAfterMs,
  TerraApiError,
  TerraClient,
  type TerraClientOptions,
  terraErrorDetail,
} from '#shared/terra/client';

/** A scripted Terra on a real socket: each request takes the next answer from the queue. */
interface Scripted {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  delayMs?: number;
  /** Send the headers and the start of the body, then nothing more. */
  stallBody?: boolean;
}

let server: Server;
let baseUrl: string;
let script: Scripted[] = [];
let seen: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: string }> = [];

beforeAll(async () => {
  server = createServer((request: IncomingMessage, response: ServerResponse) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    request.on('end', () => {
      seen.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body });
      const next = script.shift() ?? { status: 500, body: { detail: 'script exhausted' } };
      setTimeout(() => {
        if (response.destroyed) return;
        response.writeHead(next.status, { 'content-type': 'application/json', ...next.headers });
        if (next.stallBody) {
          response.write('{"token": "to');
          return;
        }
        response.end(typeof next.body === 'string' ? next.body : JSON.stringify(next.body ?? {}));
      }, next.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  script = [];
  seen = [];
});

const waits: number[] = [];
function client(overrides: Partial<TerraClientOptions> = {}): TerraClient {
  waits.length = 0;
  return new TerraClient({
    apiUrl: `${baseUrl}/api/v2`,
    widgetSessionUrl: `${baseUrl}/api/widget/session`,
    widgetMode: 'widget-api',
    credentials: async () => ({ devId: 'dev-123', apiKey: 'key-456' }),
    timeoutMs: 500,
    maxAttempts: 3,
    deadlineMs: 5_000,
    sleep: async (ms) => {
      waits.push(ms);
    },
    random: () => 0.5,
    ...overrides,
  });
}

const user = { user_id: 'u-1', provider: 'GARMIN', scopes: 'a,b', reference_id: 'alice', active: true };

async function failure(promise: Promise<unknown>): Promise<TerraApiError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(TerraApiError);
  return error as TerraApiError;
}

describe('every call', () => {
  it('sends dev-id, x-api-key and a JSON content type', async () => {
    script = [{ status: 200, body: { token: 't', expires_in: 180 } }];
    await client().generateAuthToken();
    expect(seen[0]?.headers).toMatchObject({
      'dev-id': 'dev-123',
      'x-api-key': 'key-456',
      'content-type': 'application/json',
    });
  });

  it('puts authenticateUser’s resource in the query string and the redirect URLs in the body', async () => {
    script = [
      { status: 200, body: { status: 'success', user_id: 'u-9', auth_url: 'https://login.example/x' } },
    ];
    const result = await client().authenticateUser({
      resource: 'OURA',
      reference_id: 'alice',
      success_url: 'https://api.example/ok',
      failure_url: 'https://api.example/no',
    });
    expect(result).toEqual({ user_id: 'u-9', auth_url: 'https://login.example/x' });
    expect(seen[0]?.url).toBe('/api/v2/auth/authenticateUser?resource=OURA');
    expect(JSON.parse(seen[0]?.body ?? '{}')).toMatchObject({
      reference_id: 'alice',
      auth_success_redirect_url: 'https://api.example/ok',
      auth_failure_redirect_url: 'https://api.example/no',
    });
  });
});

describe('errors', () => {
  it.each([
    [{ type: 'about:blank', title: 'not found', detail: 'user not found' }, 'user not found'],
    [{ status: 'error', message: 'Invalid API key' }, 'Invalid API key'],
    ['<html>Bad Gateway</html>', '<html>Bad Gateway</html>'],
    ['', 'no detail'],
  ])('reads the detail out of %j', (body, detail) => {
    expect(terraErrorDetail(typeof body === 'string' ? body : JSON.stringify(body))).toBe(detail);
  });

  it('carries Terra’s status and detail into a 502', async () => {
    script = [{ status: 403, body: { detail: 'dev-id or x-api-key headers are missing' } }];
    const error = await failure(client().generateAuthToken());
    expect(error).toMatchObject({ kind: 'upstream_failed', terraStatus: 403, code: 'terra_error' });
    expect(error.message).toContain('403');
    expect(error.message).toContain('dev-id or x-api-key headers are missing');
  });

  it('rejects an answer of the wrong shape, naming the field', async () => {
    script = [{ status: 200, body: { status: 'success', user_id: 'u-9' } }];
    const error = await failure(
      client().authenticateUser({ resource: 'OURA', reference_id: 'a', success_url: 'x', failure_url: 'y' }),
    );
    expect(error).toMatchObject({ kind: 'upstream_failed', code: 'terra_invalid_response' });
    expect(error.message).toContain('auth_url');
  });

  it('turns a timeout into a 504', async () => {
    script = [{ status: 200, body: {}, delayMs: 2_000 }];
    const error = await failure(client({ timeoutMs: 100, maxAttempts: 1 }).generateAuthToken());
    expect(error).toMatchObject({ kind: 'upstream_timeout', code: 'terra_timeout' });
  });

  it('turns a body that stalls after the headers into a 504, not into a shape error', async () => {
    script = [{ status: 200, stallBody: true }];
    const error = await failure(client({ timeoutMs: 150, maxAttempts: 1 }).generateAuthToken());
    expect(error).toMatchObject({ kind: 'upstream_timeout', code: 'terra_timeout' });
  });

  it('does not follow a redirect: our key goes to Terra only', async () => {
    script = [{ status: 302, headers: { location: `${baseUrl}/elsewhere` } }];
    const error = await failure(client({ maxAttempts: 1 }).generateAuthToken());
    expect(error).toMatchObject({ kind: 'upstream_failed', code: 'terra_error', terraStatus: 302 });
    expect(seen.map((request) => request.url)).toEqual(['/api/v2/auth/generateAuthToken']);
  });

  it('explains how to switch when the legacy widget endpoint answers 410', async () => {
    script = [{ status: 410, body: { detail: 'gone' } }];
    const error = await failure(
      client({ widgetMode: 'legacy' }).createWidgetSession({
        reference_id: 'a',
        success_url: 'x',
        failure_url: 'y',
      }),
    );
    expect(error).toMatchObject({ kind: 'upstream_failed', terraStatus: 410 });
    expect(error.message).toContain('TERRA_WIDGET_MODE=widget-api');
    expect(seen[0]?.url).toBe('/api/v2/auth/generateWidgetSession');
  });
});

describe('retries', () => {
  it('retries an idempotent call on 5xx with jittered backoff and then succeeds', async () => {
    script = [
      { status: 503, body: { detail: 'busy' } },
      { status: 502, body: {} },
      { status: 200, body: { user } },
    ];
    expect(await client().getUser('u-1')).toMatchObject({ user_id: 'u-1' });
    expect(seen).toHaveLength(3);
    expect(waits).toEqual([50, 100]);
  });

  it('honours Retry-After on 429, even for a POST', async () => {
    script = [
      { status: 429, body: { detail: 'slow down' }, headers: { 'retry-after': '2' } },
      { status: 200, body: { token: 't', expires_in: 180 } },
    ];
    await client().generateAuthToken();
    expect(waits).toEqual([2_000]);
  });

  it('does not retry a POST on 5xx: it may have been applied', async () => {
    script = [{ status: 500, body: { detail: 'boom' } }];
    await failure(client().generateAuthToken());
    expect(seen).toHaveLength(1);
  });

  it('gives up when Retry-After would pass the deadline', async () => {
    script = [{ status: 429, body: {}, headers: { 'retry-after': '60' } }];
    const error = await failure(client({ deadlineMs: 3_000 }).getUser('u-1'));
    expect(error.terraStatus).toBe(429);
    expect(waits).toEqual([]);
  });

  it('stops after maxAttempts', async () => {
    script = [{ status: 500 }, { status: 500 }, { status: 500 }, { status: 200, body: { user } }];
    await failure(client({ maxAttempts: 2 }).getUser('u-1'));
    expect(seen).toHaveLength(2);
  });

  it('retries network errors for idempotent calls', async () => {
    const unreachable = client({ apiUrl: 'http://127.0.0.1:1/api/v2', maxAttempts: 2 });
    const error = await failure(unreachable.getUser('u-1'));
    expect(error).toMatchObject({ kind: 'upstream_failed', code: 'terra_unreachable' });
    expect(waits).toHaveLength(1);
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    expect(retryAfterMs('3')).toBe(3_000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs(null)).toBeUndefined();
  });
});

describe('shapes', () => {
  it.each([
    ['a bare array', [user]],
    ['{users}', { users: [user] }],
    ['{user}', { user }],
  ])('reads userInfo by reference_id as %s', async (_, body) => {
    script = [{ status: 200, body }];
    expect(await client().getUsersByReference('alice')).toEqual([
      expect.objectContaining({ user_id: 'u-1' }),
    ]);
    expect(seen[0]?.url).toBe('/api/v2/userInfo?reference_id=alice');
  });

  it('answers undefined for a user Terra does not know', async () => {
    script = [{ status: 404, body: { detail: 'user not found' } }];
    expect(await client().getUser('nobody')).toBeUndefined();
  });

  it('counts a 404 from deauthenticateUser as already done', async () => {
    script = [{ status: 404, body: { detail: 'user not found' } }];
    expect(await client().deauthenticateUser('gone')).toBe(false);
    expect(seen[0]).toMatchObject({ method: 'DELETE', url: '/api/v2/auth/deauthenticateUser?user_id=gone' });
  });

  it.each([
    ['unpaged {users}', { users: [user] }, null],
    ['paged {data}', { data: { next: 1, max_page: 3, results: [user] } }, 1],
  ])('reads subscriptions %s', async (_, body, next) => {
    script = [{ status: 200, body }];
    // Terra's comma-separated scopes reach the domain parsed.
    expect(await client().listSubscriptions(0)).toEqual({
      users: [
        { user_id: 'u-1', provider: 'GARMIN', scopes: ['a', 'b'], reference_id: 'alice', active: true },
      ],
      next,
    });
  });

  it('asks integrations/detailed for SDK providers too', async () => {
    script = [
      {
        status: 200,
        body: { status: 'success', providers: [{ provider: 'APPLE', setup: 'SDK', enabled: true }] },
      },
    ];
    expect(await client().listProviders()).toEqual([
      { provider: 'APPLE', name: 'APPLE', icon: null, types: [], sdk_only: true },
    ]);
    expect(seen[0]?.url).toBe('/api/v2/integrations/detailed?sdk=true');
  });

  it('calls the new widget API with providers as a comma-separated string', async () => {
    script = [
      {
        status: 200,
        body: { session_id: 's-1', url: 'https://widget.example/s-1', status: 'success', expires_in: 900 },
      },
    ];
    const session = await client().createWidgetSession({
      reference_id: 'alice',
      providers: ['GARMIN', 'OURA'],
      success_url: 'https://api.example/ok',
      failure_url: 'https://api.example/no',
    });
    expect(session).toEqual({ session_id: 's-1', url: 'https://widget.example/s-1', expires_in: 900 });
    expect(seen[0]?.url).toBe('/api/widget/session');
    expect(JSON.parse(seen[0]?.body ?? '{}')).toMatchObject({
      providers: 'GARMIN,OURA',
      reference_id: 'alice',
    });
  });
});
