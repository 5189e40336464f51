import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join, relative, sep } from 'node:path';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '#local/stack';
import { createDocumentClient } from '#shared/store/client';
import { AppUser, decideAtLogin, followCallback, sandboxOf, startTestStack } from '../helpers/local-stack.ts';
import { signedHeaders } from '../helpers/signing.ts';
import { authSuccess, dataEvent, deauth, terraUser } from '../helpers/terra-fixtures.ts';

/**
 * Defects found by attacking local mode as a black box, each pinned over real HTTP: the local API, the
 * sandbox playing Terra, DynamoDB Local. Nothing here reaches into the code under test.
 */
let stack: LocalStack;

beforeAll(async () => {
  // Persistent data dir (not in-memory) so the dev JWT secret is on disk for the `exp` test.
  stack = await startTestStack({ inMemory: false });
});
afterAll(async () => {
  await stack?.stop();
});

const sandbox = () => sandboxOf(stack);

async function deliver(payload: unknown, options: { timestamp?: number; raw?: Buffer } = {}) {
  const body = options.raw ?? Buffer.from(JSON.stringify(payload));
  const response = await fetch(stack.webhookUrl, {
    method: 'POST',
    headers: signedHeaders(body, {
      secret: stack.signingSecret,
      traceId: randomUUID(),
      ...(options.timestamp === undefined ? {} : { timestamp: options.timestamp }),
    }),
    body: new Uint8Array(body),
  });
  return response.status;
}

async function scanTable(TableName: string): Promise<Array<Record<string, unknown>>> {
  const doc = createDocumentClient({ dynamoEndpoint: stack.dynamoEndpoint });
  const { Items } = await doc.send(new ScanCommand({ TableName, ConsistentRead: true }));
  doc.destroy();
  return (Items ?? []) as Array<Record<string, unknown>>;
}

const scanInbox = () => scanTable(stack.tables.inboxTable);

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

describe('identity: no caller can reach records that are not its own', () => {
  it('a token whose sub is the old reserved partition value sees no reference-less connection and cannot delete one', async () => {
    const user_id = `outside-${randomUUID()}`;
    // A Terra user connected outside this backend: no reference_id anywhere.
    expect(await deliver(authSuccess({ user: terraUser({ user_id, reference_id: null }) }))).toBe(200);
    const intruder = new AppUser(stack, '#unreferenced');
    const listed = await intruder.call('GET', '/connections');
    expect(listed.status === 401 || listed.status === 200).toBe(true);
    expect(JSON.stringify(listed.body)).not.toContain(user_id);
    const deleted = await intruder.call('DELETE', `/connections/${user_id}`);
    expect([401, 404]).toContain(deleted.status);
    // Terra still has nothing to say about it: the delete never reached the sandbox as a deauth.
    expect(
      sandbox()
        .deliveries()
        .some((d) => d.type === 'deauth' && d.user_id === user_id),
    ).toBe(false);
  });

  it.each([
    ['control character', 'alice\u0007'],
    ['a newline', 'alice\nbob'],
    ['a tab', 'alice\tbob'],
    ['a leading space', ' alice'],
    ['a trailing space', 'alice '],
    ['a no-break space (looks like a space, is another identity)', 'alice\u00a0bob'],
    ['a zero-width space (invisible)', 'alice\u200b'],
    ['a right-to-left override (shows as another name)', 'alice\u202eboj'],
    ['a lone surrogate (not text)', 'alice\ud800'],
    ['only a dot (a path segment: "here")', '.'],
    ['only dots (a path segment: "up")', '..'],
    ['257 characters', 'é'.repeat(257)],
  ])('refuses an identity with %s on every JWT route with 401', async (_name, sub) => {
    // Signed with the stack's own secret rather than minted by /dev/token, which refuses these itself:
    // this is what a misconfigured identity provider could put in a valid token.
    const secret = readFileSync(join(stack.dataDir, 'dev-jwt-secret'), 'utf8').trim();
    const token = await new SignJWT({ sub })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer('terra-connect-local')
      .setAudience('terra-connect')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(secret));
    for (const [method, path, body] of [
      ['GET', '/connections', undefined],
      ['POST', '/connections', { provider: 'OURA' }],
      ['DELETE', '/connections/some-user', undefined],
      ['POST', '/sessions', {}],
      ['GET', '/providers', undefined],
      ['POST', '/sdk-token', {}],
      ['DELETE', '/me', undefined],
      ['GET', '/me/deletion', undefined],
    ] as const) {
      const response = await fetch(`${stack.apiUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      expect(response.status, `${method} ${path}`).toBe(401);
    }
  });
});

describe('archive keys: no identifier is a path segment', () => {
  it("a cancelled login naming another app user's identity as '..' or '.' lands under its own prefix, and no dot segment reaches another app user's file", async () => {
    const bystander = `bystander-${randomUUID()}`;
    const cancelled = (reference_id: string) => ({
      type: 'auth_cancelled',
      status: 'error',
      reference_id,
      flow_id: randomUUID(),
    });
    expect(await deliver(cancelled(bystander))).toBe(200);
    for (const reference_id of ['.', '..']) expect(await deliver(cancelled(reference_id))).toBe(200);
    const references = join(stack.archiveDir, 'references');
    // Each under a prefix of its own, dots encoded; nothing at the archive's root.
    expect(readdirSync(references).sort()).toEqual(expect.arrayContaining(['%2E', '%2E%2E', bystander]));
    expect(readdirSync(stack.archiveDir).filter((name) => /^\d{4}$/.test(name))).toEqual([]);
    // The bystander's delivery is still there, and its payload is not served through a dot segment.
    const [file] = filesUnder(join(references, bystander));
    expect(file).toBeDefined();
    const key = relative(stack.archiveDir, file ?? '')
      .split(sep)
      .join('/');
    const payload = (path: string) =>
      fetch(`${stack.apiUrl}/dev/events/payload?key=${encodeURIComponent(path)}`);
    // The file is there (only users/ is ever served); reached through a `..` after users/, it is not.
    const escaped = await payload(`users/../${key}`);
    expect(escaped.status).not.toBe(200);
    expect(await escaped.text()).not.toContain('auth_cancelled');
  });
});

describe('one record per Terra user', () => {
  it('a reference-less data event before the auth, then a reference-less deauth: the owner sees one record, disconnected', async () => {
    const owner = new AppUser(stack);
    const user_id = `early-${randomUUID()}`;
    const anonymous = terraUser({ user_id, reference_id: null });
    expect(await deliver(dataEvent('activity', { user: anonymous }))).toBe(200);
    expect(await deliver(authSuccess({ user: terraUser({ user_id, reference_id: owner.sub }) }))).toBe(200);
    expect(await deliver(deauth({ user: anonymous }))).toBe(200);
    const connections = (await owner.connections()).filter((c) => c.user_id === user_id);
    expect(connections).toHaveLength(1);
    expect(connections[0]?.status).toBe('disconnected');
    // Whatever the key schema: the table holds one connection record naming this Terra user, not a
    // second one under a reserved partition that the owner's list happens not to show.
    const records = (await scanTable(stack.tables.connectionsTable)).filter(
      (item) =>
        Object.values(item).includes(user_id) &&
        typeof item.status === 'string' &&
        // The backfill's plan and requests live beside the record, with statuses of their own.
        !String(item.sk).startsWith('backfill'),
    );
    expect(records.map((item) => item.status)).toEqual(['disconnected']);
  });
});

describe('callbacks only confirm what Terra says', () => {
  it('a forged failure callback leaves a pending connection pending, and the real approval makes it active', async () => {
    const owner = new AppUser(stack);
    const created = await owner.call('POST', '/connections', { provider: 'OURA' });
    expect(created.status).toBe(201);
    const user_id = String(created.body.user_id);
    const forged = `${stack.apiUrl}/callbacks/terra/failure?user_id=${user_id}&reference_id=${owner.sub}&resource=OURA`;
    await followCallback(forged);
    expect((await owner.connections()).find((c) => c.user_id === user_id)?.status).toBe('pending');

    await followCallback(await decideAtLogin(String(created.body.auth_url), 'approve', `acct-${user_id}`));
    await sandbox().idle();
    expect((await owner.connections()).find((c) => c.user_id === user_id)?.status).toBe('active');
  });

  it('a forged success callback does not clear an error Terra reported', async () => {
    const owner = new AppUser(stack);
    const created = await owner.call('POST', '/connections', { provider: 'OURA' });
    const user_id = String(created.body.user_id);
    await followCallback(await decideAtLogin(String(created.body.auth_url), 'approve', `acct-${user_id}`));
    await sandbox().idle();
    const fired = await fetch(`${sandbox().url}/sandbox/users/${user_id}/events/connection_error`, {
      method: 'POST',
    });
    expect(fired.status).toBe(200);
    await sandbox().idle();
    expect((await owner.connections()).find((c) => c.user_id === user_id)?.status).toBe('error');

    await followCallback(`${stack.apiUrl}/callbacks/terra/success?user_id=${user_id}&resource=OURA`);
    expect((await owner.connections()).find((c) => c.user_id === user_id)?.status).toBe('error');
  });
});

describe('nothing signed is lost', () => {
  it('a validly signed delivery outside the tolerance window answers 401 but is quarantined and recorded stale', async () => {
    const user_id = `late-${randomUUID()}`;
    const old = Math.floor(Date.now() / 1000) - 3600;
    const payload = dataEvent('sleep', { user: terraUser({ user_id }) });
    expect(await deliver(payload, { timestamp: old })).toBe(401);
    const quarantined = filesUnder(join(stack.dataDir, 'archive', 'quarantine')).filter((file) =>
      readFileSync(file, 'utf8').includes(user_id),
    );
    expect(quarantined).toHaveLength(1);
    const record = (await scanInbox()).find((item) => item.user_id === user_id);
    expect(record).toMatchObject({ status: 'stale' });
  });

  it('a bad HMAC outside the window writes nothing', async () => {
    const user_id = `forged-${randomUUID()}`;
    const body = JSON.stringify(dataEvent('sleep', { user: terraUser({ user_id }) }));
    const old = Math.floor(Date.now() / 1000) - 3600;
    const response = await fetch(stack.webhookUrl, {
      method: 'POST',
      headers: signedHeaders(body, { secret: 'not-the-secret', timestamp: old }),
      body,
    });
    expect(response.status).toBe(401);
    const archived = filesUnder(join(stack.dataDir, 'archive')).filter((file) =>
      readFileSync(file, 'utf8').includes(user_id),
    );
    expect(archived).toEqual([]);
    expect((await scanInbox()).some((item) => item.user_id === user_id)).toBe(false);
  });
});

describe('local mode keeps its contract', () => {
  it('hands the webhook the exact bytes: a signed body with non-UTF-8 bytes is accepted', async () => {
    const user_id = `bytes-${randomUUID()}`;
    const json = JSON.stringify(authSuccess({ user: terraUser({ user_id, reference_id: null }) }));
    // A Latin-1 "é" inside a string value: valid JSON bytes to a lenient parser, not valid UTF-8.
    const raw = Buffer.concat([
      Buffer.from(json.slice(0, -1)),
      Buffer.from(',"note":"caf'),
      Buffer.from([0xe9]),
      Buffer.from('"}'),
    ]);
    const status = await deliver(undefined, { raw });
    // Verified over the exact bytes; the body is then malformed UTF-8 JSON, kept and answered 400.
    expect(status).toBe(400);
  });

  it('answers its local-only endpoints and the sandbox only to a loopback Host, so a rebound DNS name gets no token', async () => {
    // What a page on another site sends once its name resolves to 127.0.0.1: our port, its own Host.
    const send = (url: string, host: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const call = httpRequest(url, {
          method: 'POST',
          headers: { host, 'content-type': 'application/json' },
        });
        call.on('response', async (response) => {
          let body = '';
          for await (const chunk of response) body += chunk;
          resolve({ status: response.statusCode ?? 0, body });
        });
        call.on('error', reject).end(JSON.stringify({ sub: 'rebound' }));
      });
    const api = new URL(stack.apiUrl);
    const rebound = await send(`${stack.apiUrl}/dev/token`, `attacker.example:${api.port}`);
    expect(rebound.status).toBe(403);
    expect(rebound.body).not.toContain('token"');
    const eventsFeed = await send(`${stack.apiUrl}/dev/events`, `attacker.example:${api.port}`);
    expect(eventsFeed.status).toBe(403);
    const sandboxUrl = new URL(sandbox().url);
    const controls = await send(`${sandbox().url}/sandbox/settings`, `attacker.example:${sandboxUrl.port}`);
    expect(controls.status).toBe(403);
    for (const host of [`localhost:${api.port}`, `127.0.0.1:${api.port}`]) {
      const local = await send(`${stack.apiUrl}/dev/token`, host);
      expect(local.status, host).toBe(200);
      // A compact JWS: header, payload and signature.
      expect(JSON.parse(local.body)).toEqual({ token: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/) });
    }
  });

  it('refuses a local token without exp, as API Gateway does', async () => {
    const secret = readFileSync(join(stack.dataDir, 'dev-jwt-secret'), 'utf8').trim();
    const token = await new SignJWT({ sub: 'no-exp' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer('terra-connect-local')
      .setAudience('terra-connect')
      .setIssuedAt()
      .sign(new TextEncoder().encode(secret));
    const response = await fetch(`${stack.apiUrl}/connections`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(401);
  });
});
