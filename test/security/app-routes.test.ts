import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDevAuth, LOCAL_AUDIENCE, LOCAL_ISSUER } from '#local/dev-auth';
import type { LocalStack } from '#local/stack';
import { ROUTES } from '#shared/http/routes';
import { logger } from '#shared/log';
import { AppUser, decideAtLogin, followCallback, startTestStack } from '../helpers/local-stack.ts';
import { signedHeaders } from '../helpers/signing.ts';

/** What an attacker can send to the app routes and callbacks, over real HTTP. */
let stack: LocalStack;

beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});

const JWT_ROUTES = ROUTES.filter((route) => route.auth === 'jwt');
const key = (secret: string) => new TextEncoder().encode(secret);

function pathOf(path: string): string {
  return path.replace('{user_id}', 'some-user');
}

async function callWith(token: string | undefined, method: string, path: string) {
  const response = await fetch(`${stack.apiUrl}${pathOf(path)}`, {
    method,
    headers: token === undefined ? {} : { authorization: token },
  });
  return response.status;
}

describe('the local authorizer', () => {
  const auth = createDevAuth('the-right-secret');
  const claims = { sub: 'mallory' };

  it.each([
    [
      'expired',
      () =>
        new SignJWT(claims)
          .setProtectedHeader({ alg: 'HS256' })
          .setIssuer(LOCAL_ISSUER)
          .setAudience(LOCAL_AUDIENCE)
          .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
          .sign(key('the-right-secret')),
    ],
    [
      'wrong issuer',
      () =>
        new SignJWT(claims)
          .setProtectedHeader({ alg: 'HS256' })
          .setIssuer('https://evil.example')
          .setAudience(LOCAL_AUDIENCE)
          .setExpirationTime('1h')
          .sign(key('the-right-secret')),
    ],
    [
      'wrong audience',
      () =>
        new SignJWT(claims)
          .setProtectedHeader({ alg: 'HS256' })
          .setIssuer(LOCAL_ISSUER)
          .setAudience('another-api')
          .setExpirationTime('1h')
          .sign(key('the-right-secret')),
    ],
    [
      'another key',
      () =>
        new SignJWT(claims)
          .setProtectedHeader({ alg: 'HS256' })
          .setIssuer(LOCAL_ISSUER)
          .setAudience(LOCAL_AUDIENCE)
          .setExpirationTime('1h')
          .sign(key('a-guessed-secret')),
    ],
    [
      'another algorithm',
      () =>
        new SignJWT(claims)
          .setProtectedHeader({ alg: 'HS512' })
          .setIssuer(LOCAL_ISSUER)
          .setAudience(LOCAL_AUDIENCE)
          .setExpirationTime('1h')
          .sign(key('the-right-secret')),
    ],
    [
      'alg none',
      async () =>
        new UnsecuredJWT(claims)
          .setIssuer(LOCAL_ISSUER)
          .setAudience(LOCAL_AUDIENCE)
          .setExpirationTime('1h')
          .encode(),
    ],
  ])('refuses a token with %s', async (_, mint) => {
    await expect(auth.verify(await mint())).rejects.toThrow();
  });

  it('accepts its own tokens', async () => {
    expect(await auth.verify(await auth.mint({ sub: 'alice' }))).toMatchObject({ sub: 'alice' });
  });
});

describe('JWT routes over HTTP', () => {
  const forged = async () => ({
    none: `Bearer ${new UnsecuredJWT({ sub: 'alice' }).setIssuer(LOCAL_ISSUER).setAudience(LOCAL_AUDIENCE).setExpirationTime('1h').encode()}`,
    otherKey: `Bearer ${await new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'HS256' }).setIssuer(LOCAL_ISSUER).setAudience(LOCAL_AUDIENCE).setExpirationTime('1h').sign(key('guess'))}`,
  });

  it.each(JWT_ROUTES.map((route) => [route.method, route.path] as const))(
    '%s %s answers 401 to missing, garbage, alg:none and foreign-key tokens',
    async (method, path) => {
      const { none, otherKey } = await forged();
      for (const token of [
        undefined,
        '',
        'Bearer',
        'Bearer x.y.z',
        'Basic YWxpY2U6c2VjcmV0',
        none,
        otherKey,
      ]) {
        expect(await callWith(token, method, path)).toBe(401);
      }
    },
  );
});

describe('hostile paths and bodies', () => {
  it.each([
    '/connections/..%2F..%2Fetc%2Fpasswd',
    '/connections/%2e%2e',
    `/connections/${'a'.repeat(5000)}`,
    '/connections/%00',
    '/connections/%E2%80%AEevil',
    '/connections/a%20b',
  ])('DELETE %s answers 4xx', async (path) => {
    const status = (await new AppUser(stack).call('DELETE', path)).status;
    expect(status).toBeGreaterThanOrEqual(400);
    expect(status).toBeLessThan(500);
  });

  it('answers every fuzzed body with 201 or a 4xx error shape, never a 5xx', async () => {
    const user = new AppUser(stack);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/sessions', '/connections', '/sdk-token'),
        fc.oneof(
          fc.json({ maxDepth: 3 }),
          fc.string({ maxLength: 300 }),
          fc.anything().map((value) => JSON.stringify(value) ?? 'null'),
        ),
        async (path, body) => {
          const response = await user.call('POST', path, body);
          if (response.status === 201) return;
          expect(response.status).toBeGreaterThanOrEqual(400);
          expect(response.status).toBeLessThan(500);
          expect(response.body.error).toMatchObject({
            code: expect.any(String),
            message: expect.any(String),
          });
        },
      ),
      { numRuns: 150 },
    );
  }, 60_000);
});

describe('callbacks', () => {
  const corpus = [
    'https://evil.example',
    '//evil.example',
    '\\\\evil.example',
    '/\\evil.example',
    'https:evil.example',
    'javascript:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    '%2F%2Fevil.example',
    'https%3A%2F%2Fevil.example',
    'ｅｖｉｌ.example',
    'web\r\nLocation: https://evil.example',
    'web%0d%0aLocation:%20https://evil.example',
    'web@evil.example',
  ];

  it.each(corpus)('sends redirect=%j only to a configured target', async (redirect) => {
    for (const outcome of ['success', 'failure', 'x']) {
      const url = new URL(`${stack.apiUrl}/callbacks/terra/${outcome}`);
      url.search = new URLSearchParams({
        redirect,
        user_id: redirect,
        resource: redirect,
        reference_id: redirect,
      }).toString();
      const landing = await followCallback(url.toString());
      expect(landing.origin).toBe(stack.apiUrl);
      expect(landing.pathname).toBe('/result');
    }
  });

  it('records nothing for a forged success, even naming a real reference_id', async () => {
    const user = new AppUser(stack);
    const landing = await followCallback(
      `${stack.apiUrl}/callbacks/terra/success?user_id=${randomUUID()}&resource=GARMIN&reference_id=${user.sub}`,
    );
    expect(landing.searchParams.get('status')).toBe('error');
    expect(await user.connections()).toEqual([]);
  });
});

describe('logs', () => {
  it('never carry a signature, the signing secret, the API key or a JWT', async () => {
    const lines: string[] = [];
    const out = process.stdout.write.bind(process.stdout);
    const err = process.stderr.write.bind(process.stderr);
    const capture = (chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    };
    process.stdout.write = capture as typeof process.stdout.write;
    process.stderr.write = capture as typeof process.stderr.write;
    logger.setLogLevel('DEBUG');
    const user = new AppUser(stack);
    let token = '';
    let signature = '';
    try {
      const created = await user.call('POST', '/connections', { provider: 'GARMIN' });
      await followCallback(await decideAtLogin(String(created.body.auth_url), 'approve'));
      await stack.sandbox?.idle();
      const body = JSON.stringify({ type: 'healthcheck' });
      const headers = signedHeaders(body, { secret: stack.signingSecret });
      signature = headers['terra-signature']?.split('v1=')[1] ?? '';
      await fetch(stack.webhookUrl, { method: 'POST', headers, body });
      await fetch(stack.webhookUrl, { method: 'POST', headers: { 'terra-signature': 't=1,v1=00' }, body });
      await user.call('DELETE', `/connections/${created.body.user_id}`);
      token = (
        (await (
          await fetch(`${stack.apiUrl}/dev/token`, {
            method: 'POST',
            body: JSON.stringify({ sub: user.sub }),
          })
        ).json()) as { token: string }
      ).token;
      await fetch(`${stack.apiUrl}/connections`, { headers: { authorization: `Bearer ${token}x` } });
    } finally {
      logger.setLogLevel('SILENT');
      process.stdout.write = out;
      process.stderr.write = err;
    }
    const output = lines.join('');
    expect(output).toContain('"outcome"');
    for (const secret of [
      stack.signingSecret,
      'local-api-key',
      signature,
      token,
      token.split('.')[2] ?? 'none',
    ]) {
      expect(secret.length).toBeGreaterThan(5);
      expect(output).not.toContain(secret);
    }
  }, 60_000);
});
