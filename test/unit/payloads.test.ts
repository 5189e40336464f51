import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3_HOSTS } from '#shared/ids';
import { httpPayloadFetcher, isAllowedPayloadUrl } from '#shared/webhooks/payloads';

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
    } else if (path.startsWith('/gzip-huge')) {
      // Small on the wire, five times the bound once decoded.
      const packed = gzipSync(Buffer.alloc(5_000_000, 0x20));
      response
        .writeHead(200, { 'content-encoding': 'gzip', 'content-length': String(packed.length) })
        .end(packed);
    } else if (path.startsWith('/gzip')) {
      // S3 serves an object stored with Content-Encoding: gzip as stored; its length is the packed one.
      const packed = gzipSync(JSON.stringify({ type: 'activity', data: Array(2000).fill({ n: 1 }) }));
      response
        .writeHead(200, {
          'content-type': 'application/json',
          'content-encoding': 'gzip',
          'content-length': String(packed.length),
        })
        .end(packed);
    } else if (path.startsWith('/request-timeout-408')) {
      response.writeHead(408).end();
    } else if (path.startsWith('/s3-request-timeout')) {
      response
        .writeHead(400, { 'content-type': 'application/xml' })
        .end(
          '<Error><Code>RequestTimeout</Code><Message>Your socket connection to the server was not read from or written to within the timeout period.</Message></Error>',
        );
    } else if (path.startsWith('/bad-request')) {
      response
        .writeHead(400, { 'content-type': 'application/xml' })
        .end('<Error><Code>InvalidArgument</Code></Error>');
    } else if (path.startsWith('/cut-undeclared')) {
      // No length, no chunks: the body ends where the connection does, so a cut looks like the end.
      request.socket.end(
        'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"cut":',
      );
    } else if (path.startsWith('/whole-undeclared')) {
      request.socket.end(
        'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"whole":true}',
      );
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

  it('decodes a gzip-encoded object, whose declared length is the packed one', async () => {
    const fetched = await fetcher().fetch(`${base}/gzip`);
    expect(fetched.ok && JSON.parse(fetched.body.toString())).toMatchObject({ type: 'activity' });
    expect(fetched.ok && fetched.maybeTruncated).toBeFalsy();
  });

  it('bounds the decoded size of a gzip-encoded object, not only its packed size', async () => {
    expect(await fetcher().fetch(`${base}/gzip-huge`)).toEqual({
      ok: false,
      retryable: false,
      reason: 'too_large',
    });
  });

  it('says a body with no declared length may have been cut short, and one with a length may not', async () => {
    const cut = await fetcher().fetch(`${base}/cut-undeclared`);
    expect(cut).toMatchObject({ ok: true, maybeTruncated: true });
    expect(cut.ok && cut.body.toString()).toBe('{"cut":');
    expect(await fetcher().fetch(`${base}/whole-undeclared`)).toMatchObject({
      ok: true,
      maybeTruncated: true,
    });
    expect(await fetcher().fetch(`${base}/ok`)).not.toHaveProperty('maybeTruncated');
  });

  it.each([
    ['an expired URL', '/expired', 'expired'],
    ['a 400 that is not a timeout', '/bad-request', 'bad_status'],
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
    ['a 408 Request Timeout', '/request-timeout-408', 'timeout'],
    ["S3's 400 RequestTimeout", '/s3-request-timeout', 'timeout'],
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
