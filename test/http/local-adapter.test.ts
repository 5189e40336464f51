import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2WithJWTAuthorizer } from 'aws-lambda';
import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { createDevAuth, LOCAL_AUDIENCE, LOCAL_ISSUER } from '#local/dev-auth';
import { createLocalServer, type LocalRoute, type LocalServerOptions } from '#local/server';

/**
 * The local HTTP adapter on its own, with tiny fake handlers and real HTTP requests: what reaches a
 * handler, and what a client sees on the wire.
 */
type Event = APIGatewayProxyEventV2WithJWTAuthorizer;

const SECRET = 'adapter-test-secret';
const auth = createDevAuth(SECRET);
const stops: Array<() => Promise<void>> = [];

afterEach(async () => {
  await Promise.all(stops.splice(0).map((stop) => stop()));
});

/** Routes that record the events they get and answer `{ok: true}`. */
function recordingRoutes(): { routes: LocalRoute[]; events: Event[] } {
  const events: Event[] = [];
  const handler = async (event: Event) => {
    events.push(event);
    return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' };
  };
  return {
    events,
    routes: [
      { method: 'POST', path: '/webhooks/terra', entry: 'terra-webhook', auth: 'none', handler },
      { method: 'GET', path: '/connections', entry: 'list-connections', auth: 'jwt', handler },
      {
        method: 'GET',
        path: '/boom',
        entry: 'list-providers', // a handler that throws, on a route of its own
        auth: 'none',
        handler: async () => {
          throw new Error('boom');
        },
      },
    ],
  };
}

async function serve(options: Partial<LocalServerOptions> & Pick<LocalServerOptions, 'routes'>) {
  const server = createLocalServer({ auth, ...options });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  stops.push(
    () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The exact bytes a handler was given, however the event carried them. */
function bytesOf(event: Event): Buffer {
  return event.isBase64Encoded
    ? Buffer.from(event.body ?? '', 'base64')
    : Buffer.from(event.body ?? '', 'utf8');
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A request through `agent`, so the test decides which connection it may reuse. */
function send(agent: Agent, url: string, method: string, body?: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method, agent, headers: { 'content-type': 'application/json' } });
    request.on('error', reject);
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () =>
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    request.end(body);
  });
}

describe('request bodies reach the handler byte for byte', () => {
  it('hands over a JSON body that is not valid UTF-8 base64-encoded, exactly as sent', async () => {
    const { routes, events } = recordingRoutes();
    const url = await serve({ routes });
    const sent = Buffer.concat([
      Buffer.from('{"note":"'),
      Buffer.from([0xff, 0xfe, 0xc3]),
      Buffer.from('"}'),
    ]);

    const response = await fetch(`${url}/webhooks/terra`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: sent,
    });

    expect(response.status).toBe(200);
    const [event] = events;
    expect(event?.isBase64Encoded).toBe(true);
    expect(bytesOf(event!).equals(sent)).toBe(true);
  });

  it('still hands over a valid UTF-8 JSON body as a string', async () => {
    const { routes, events } = recordingRoutes();
    const url = await serve({ routes });
    const text = '{"name":"Zoë","mood":"✓","wave":"👋"}';

    await fetch(`${url}/webhooks/terra`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: text,
    });

    const [event] = events;
    expect(event?.isBase64Encoded).toBe(false);
    expect(event?.body).toBe(text);
    expect(bytesOf(event!).equals(Buffer.from(text, 'utf8'))).toBe(true);
  });

  it('keeps a leading byte order mark, which a signature covers too', async () => {
    const { routes, events } = recordingRoutes();
    const url = await serve({ routes });
    const sent = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":1}')]);

    await fetch(`${url}/webhooks/terra`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: sent,
    });

    const [event] = events;
    expect(event?.isBase64Encoded).toBe(false);
    expect(bytesOf(event!).equals(sent)).toBe(true);
  });
});

describe('an oversized body', () => {
  it('gets 413 and a closed connection, and the next request on the same agent succeeds', async () => {
    const { routes, events } = recordingRoutes();
    const url = await serve({ routes });
    // One socket at most: the next request can go out only once the refused connection is really gone.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    stops.push(async () => agent.destroy());

    const refused = await send(agent, `${url}/webhooks/terra`, 'POST', Buffer.alloc(11 * 1024 * 1024, 0x20));
    expect(refused.status).toBe(413);
    expect(refused.headers.connection).toBe('close');
    expect(JSON.parse(refused.body)).toEqual({ message: 'Request Entity Too Large' });

    const next = await send(agent, `${url}/webhooks/terra`, 'POST', Buffer.from('{"after":true}'));
    expect(next.status).toBe(200);
    expect(JSON.parse(next.body)).toEqual({ ok: true });
    expect(events.map((event) => event.body)).toEqual(['{"after":true}']);
  });
});

describe('the local JWT authorizer', () => {
  const withoutExp = () =>
    new SignJWT({ sub: 'no-expiry' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(LOCAL_ISSUER)
      .setAudience(LOCAL_AUDIENCE)
      .setIssuedAt()
      .sign(new TextEncoder().encode(SECRET));

  it('refuses a token without exp, as API Gateway does', async () => {
    await expect(auth.verify(await withoutExp())).rejects.toThrow();
  });

  it('answers 401 to a token without exp on a jwt route', async () => {
    const { routes, events } = recordingRoutes();
    const url = await serve({ routes });

    const response = await fetch(`${url}/connections`, {
      headers: { authorization: `Bearer ${await withoutExp()}` },
    });

    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ message: 'Unauthorized' });
    expect(events).toHaveLength(0);
  });

  it('lets a minted token through, with its claims in the event', async () => {
    const { routes, events } = recordingRoutes();
    const url = await serve({ routes });
    const token = await auth.mint({ sub: 'alice' });
    expect(await auth.verify(token)).toMatchObject({ sub: 'alice' });

    const response = await fetch(`${url}/connections`, { headers: { authorization: `Bearer ${token}` } });

    expect(response.status).toBe(200);
    expect(events[0]?.requestContext.authorizer.jwt.claims.sub).toBe('alice');
  });

  it("answers a token it refuses as API Gateway's JWT authorizer does: the bare body, the reason in www-authenticate", async () => {
    const { routes, events } = recordingRoutes();
    const url = await serve({ routes });
    const foreign = await new SignJWT({ sub: 'alice' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(LOCAL_ISSUER)
      .setAudience('another-api')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(SECRET));

    const response = await fetch(`${url}/connections`, { headers: { authorization: `Bearer ${foreign}` } });

    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ message: 'Unauthorized' });
    expect(response.headers.get('www-authenticate')).toBe(
      'Bearer scope="" error="invalid_token" error_description="the token does not have a valid audience"',
    );
    expect(events).toHaveLength(0);
  });

  it('answers 401 without a token', async () => {
    const { routes } = recordingRoutes();
    const url = await serve({ routes });

    const response = await fetch(`${url}/connections`);

    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ message: 'Unauthorized' });
  });
});

describe('while the stack is starting', () => {
  it('answers 503 with Retry-After instead of a false 404, then routes once ready', async () => {
    const { routes, events } = recordingRoutes();
    let ready = false;
    const url = await serve({
      routes,
      ready: () => ready,
      extra: async (request, response, url) => {
        if (request.method !== 'POST' || url.pathname !== '/dev/token') return false;
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"t"}');
        return true;
      },
    });

    const token = await fetch(`${url}/dev/token`, { method: 'POST' });
    expect(token.status).toBe(200);
    for (const [method, path] of [
      ['POST', '/webhooks/terra'],
      ['GET', '/connections'],
      ['GET', '/no-such-route'],
    ] as const) {
      const response = await fetch(`${url}${path}`, { method, ...(method === 'POST' ? { body: '{}' } : {}) });
      expect(response.status, `${method} ${path}`).toBe(503);
      expect(response.headers.get('retry-after')).toBe('1');
      expect(await response.json()).toEqual({ message: 'Service Unavailable: starting' });
    }
    expect(events).toHaveLength(0);

    ready = true;
    const webhook = await fetch(`${url}/webhooks/terra`, { method: 'POST', body: '{}' });
    expect(webhook.status).toBe(200);
    const connections = await fetch(`${url}/connections`, {
      headers: { authorization: `Bearer ${await auth.mint({ sub: 'bob' })}` },
    });
    expect(connections.status).toBe(200);
    const unknown = await fetch(`${url}/no-such-route`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ message: 'Not Found' });
  });

  it('is ready by default', async () => {
    const { routes } = recordingRoutes();
    const url = await serve({ routes });

    const response = await fetch(`${url}/webhooks/terra`, { method: 'POST', body: '{}' });

    expect(response.status).toBe(200);
  });
});

describe('what stays as it was', () => {
  it('answers 500 when a handler throws', async () => {
    const { routes } = recordingRoutes();
    const url = await serve({ routes });

    const response = await fetch(`${url}/boom`);

    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ message: 'Internal Server Error' });
  });

  it('lowercases headers and joins repeated query parameters', async () => {
    const { routes, events } = recordingRoutes();
    const url = await serve({ routes });

    await fetch(`${url}/webhooks/terra?tag=a&tag=b&one=1`, {
      method: 'POST',
      headers: { 'X-Terra-Signature': 't=1,v1=abc' },
      body: '{}',
    });

    const [event] = events;
    expect(event?.headers['x-terra-signature']).toBe('t=1,v1=abc');
    expect(event?.queryStringParameters).toEqual({ tag: 'a,b', one: '1' });
    expect(event?.rawQueryString).toBe('tag=a&tag=b&one=1');
  });
});
