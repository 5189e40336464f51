import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpPayloadFetcher, isAllowedPayloadUrl, S3_HOSTS } from '#shared/webhooks/payloads';

/**
 * Downloading the payload behind an `s3_payload`: a local server plays S3's answers (expired, denied,
 * oversized, slow), over real HTTP.
 */
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((request, response) => {
    const path = request.url ?? '/';
    if (path.startsWith('/ok')) {
      const body = JSON.stringify({ type: 'activity', data: [{ n: 1 }] });
      response
        .writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
        .end(body);
    } else if (path.startsWith('/expired')) {
      response
        .writeHead(403, { 'content-type': 'application/xml' })
        .end('<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>');
    } else if (path.startsWith('/denied')) {
      response
        .writeHead(403, { 'content-type': 'application/xml' })
        .end('<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>');
    } else if (path.startsWith('/missing')) {
      response.writeHead(404).end();
    } else if (path.startsWith('/busy')) {
      response.writeHead(503).end();
    } else if (path.startsWith('/declared-huge')) {
      response.writeHead(200, { 'content-length': String(50_000_000) });
      response.write('{');
      // The client must give up on the declared size alone, before reading the body.
      setTimeout(() => response.destroy(), 2_000);
    } else if (path.startsWith('/streamed-huge')) {
      // No length declared: the bound is enforced as bytes arrive.
      response.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let sent = 0;
      const pump = () => {
        while (sent < 5_000_000 && response.write(chunk)) sent += chunk.length;
        if (sent < 5_000_000) response.once('drain', pump);
        else response.end();
      };
      pump();
    } else if (path.startsWith('/short')) {
      response.writeHead(200, { 'content-length': '100' });
      response.end('{"cut":');
    } else if (path.startsWith('/slow')) {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('{"slow":');
      setTimeout(() => response.end('true}'), 3_000);
    } else if (path.startsWith('/redirect')) {
      response.writeHead(302, { location: `${base}/ok` }).end();
    } else response.writeHead(500).end();
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  base = `http://localhost:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((done) => server.close(done));
});

const fetcher = (overrides: Partial<Parameters<typeof httpPayloadFetcher>[0]> = {}) =>
  httpPayloadFetcher({
    allowedHosts: [...S3_HOSTS],
    allowLocalhost: true,
    maxBytes: 1_000_000,
    timeoutMs: 1_000,
    ...overrides,
  });

describe('downloading an s3_payload', () => {
  it('returns the bytes exactly as served', async () => {
    const fetched = await fetcher().fetch(`${base}/ok`);
    expect(fetched.ok && JSON.parse(fetched.body.toString())).toEqual({ type: 'activity', data: [{ n: 1 }] });
  });

  it.each([
    ['an expired URL', '/expired', 'expired'],
    ['a forbidden URL', '/denied', 'forbidden'],
    ['a missing object', '/missing', 'not_found'],
    ['a redirect (never followed)', '/redirect', 'bad_status'],
  ])('records %s as a failure no retry can fix', async (_, path, reason) => {
    expect(await fetcher().fetch(`${base}${path}`)).toEqual({ ok: false, retryable: false, reason });
  });

  it.each([
    ['a declared size over the bound', '/declared-huge'],
    ['a body that grows past the bound with no size declared', '/streamed-huge'],
  ])('refuses %s as too large, for good', async (_, path) => {
    expect(await fetcher().fetch(`${base}${path}`)).toEqual({
      ok: false,
      retryable: false,
      reason: 'too_large',
    });
  });

  it.each([
    ['a server error', '/busy', 'server_error'],
    ['a download slower than the time bound', '/slow', 'timeout'],
    ['a body cut short of its declared length', '/short', 'unreachable'],
  ])('reports %s as one a retry may fix', async (_, path, reason) => {
    const fetched = await fetcher().fetch(`${base}${path}`);
    expect(fetched).toMatchObject({ ok: false, retryable: true });
    if (!fetched.ok && reason !== 'unreachable') expect(fetched.reason).toBe(reason);
  });

  it('never calls a host that is not allowlisted', async () => {
    const strict = fetcher({ allowLocalhost: false });
    expect(await strict.fetch(`${base}/ok`)).toEqual({ ok: false, retryable: false, reason: 'not_allowed' });
  });
});

describe('the host allowlist', () => {
  const options = { allowedHosts: [...S3_HOSTS], allowLocalhost: false };

  it.each([
    'https://terra-payload-bucket.s3.eu-west-2.amazonaws.com/payloads/a.json?X-Amz-Signature=x',
    'https://s3.eu-west-2.amazonaws.com/terra-payload-bucket/a.json',
    'https://bucket.s3.amazonaws.com/a.json',
    'https://bucket.s3-eu-west-1.amazonaws.com/a.json',
  ])('allows S3 at %s', (url) => {
    expect(isAllowedPayloadUrl(url, options)).toBe(true);
  });

  it.each([
    ['plain http', 'http://bucket.s3.amazonaws.com/a.json'],
    ['another AWS service', 'https://abc.execute-api.eu-west-1.amazonaws.com/a'],
    ['a look-alike host', 'https://bucket.s3.amazonaws.com.evil.example/a.json'],
    ['credentials in the URL', 'https://user:pw@bucket.s3.amazonaws.com/a.json'],
    ['an odd port', 'https://bucket.s3.amazonaws.com:8443/a.json'],
    ['localhost when local mode is off', 'http://localhost:3001/s3/payloads/a.json'],
    ['a metadata address', 'http://169.254.169.254/latest/meta-data/'],
    ['not a URL', 'not a url'],
  ])('refuses %s', (_, url) => {
    expect(isAllowedPayloadUrl(url, options)).toBe(false);
  });
});
