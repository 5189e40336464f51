import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { LocalStack } from '#local/stack';
import { connectAtSandbox, eventually, settle } from '../helpers/events.ts';
import { AppUser, startTestStack } from '../helpers/local-stack.ts';
import { signedHeaders } from '../helpers/signing.ts';
import { authSuccess, deauth, terraUser } from '../helpers/terra-fixtures.ts';
import { opsAgainst } from './run-ops.ts';

/**
 * `ops terra-users`: the Terra users the account holds (here, the sandbox's) that no active record
 * explains, and deauthenticating them at Terra.
 */
vi.setConfig({ testTimeout: 120_000 });

let stack: LocalStack;
let ops: ReturnType<typeof opsAgainst>;

beforeAll(async () => {
  // No history asked for on connect: its data would make the silent user below speak.
  stack = await startTestStack({ env: { BACKFILL_DAYS: '0' } });
  ops = opsAgainst(stack.dataDir);
});
afterAll(async () => {
  await stack?.stop();
});

function sandbox() {
  if (!stack.sandbox) throw new Error('the sandbox is not running');
  return stack.sandbox;
}

/** A user connected at Terra whose webhooks never reached us: Terra holds it, we have no record. */
async function connectedWhileOffline(reference_id: string, provider = 'OURA'): Promise<string> {
  const settings = sandbox().settings();
  sandbox().settings({ webhookUrl: 'http://127.0.0.1:9/unreachable', retryScheduleMs: [] });
  try {
    const user_id = await connectAtSandbox(stack, reference_id, provider);
    await sandbox().idle();
    return user_id;
  } finally {
    sandbox().settings({ webhookUrl: settings.webhookUrl, retryScheduleMs: settings.retryScheduleMs });
  }
}

async function deliver(payload: unknown, orderingMs?: number) {
  const body = JSON.stringify(payload);
  const headers = signedHeaders(body, {
    secret: stack.signingSecret,
    traceId: randomUUID(),
    ...(orderingMs === undefined ? {} : { orderingMs }),
  });
  const response = await fetch(stack.webhookUrl, { method: 'POST', headers, body });
  expect(response.status).toBe(200);
}

type Row = Record<string, unknown>;
const sandboxUserIds = () =>
  sandbox()
    .users()
    .map((user) => user.user_id);

describe('terra-users', () => {
  it('lists Terra users no active record explains, --stale ones too, and deauthenticates them with --deauth --yes', async () => {
    // Explained: connected, and the record says so.
    const known = new AppUser(stack);
    const knownId = await connectAtSandbox(stack, known.sub, 'GARMIN');
    await eventually(stack, async () => {
      expect(await known.connections()).toEqual([
        expect.objectContaining({ user_id: knownId, status: 'active' }),
      ]);
    });
    // No record at all.
    const orphanRef = `ops-${randomUUID()}`;
    const orphan = await connectedWhileOffline(orphanRef);
    // A record in a terminal status, though Terra still holds the user.
    const terminalRef = `ops-${randomUUID()}`;
    const terminal = await connectedWhileOffline(terminalRef);
    // (Naming its app user: one that named nobody would be parked, not recorded, docs/decisions/0020.)
    await deliver(
      deauth({ user: terraUser({ user_id: terminal, provider: 'OURA', reference_id: terminalRef }) }),
    );
    // Active, but silent for 40 days.
    const silentRef = `ops-${randomUUID()}`;
    const silent = await connectedWhileOffline(silentRef);
    const fortyDaysAgo = Date.now() - 40 * 86_400_000;
    await deliver(
      authSuccess({ user: terraUser({ user_id: silent, provider: 'OURA', reference_id: silentRef }) }),
      fortyDaysAgo,
    );
    await settle(stack);

    const listed = await ops('terra-users', '--json');
    expect(listed.code).toBe(0);
    expect(listed.json).toMatchObject({ terra_users: 4, pages: 1, stale_days: null });
    const users = listed.json.users as Row[];
    expect(users).toEqual(
      expect.arrayContaining([
        { user_id: orphan, provider: 'OURA', reference_id: orphanRef, reason: 'no_record' },
        expect.objectContaining({ user_id: terminal, reason: 'terminal', status: 'disconnected' }),
      ]),
    );
    expect(users.map((user) => user.user_id).sort()).toEqual([orphan, terminal].sort());

    const stale = await ops('terra-users', '--stale', '--json');
    expect(stale.code).toBe(0);
    expect(stale.json.stale_days).toBe(30);
    expect(stale.json.users).toContainEqual({
      user_id: silent,
      provider: 'OURA',
      reference_id: silentRef,
      reason: 'stale',
      status: 'active',
      last_data: new Date(fortyDaysAgo).toISOString(),
    });
    expect((stale.json.users as Row[]).map((user) => user.user_id)).not.toContain(knownId);

    const table = await ops('terra-users');
    expect(table.code).toBe(0);
    expect(table.stdout).toContain(orphan);
    expect(table.stdout).toContain('2 of 4 Terra users unexplained');

    // Listing wrote nothing and deauthenticated nobody.
    expect(sandboxUserIds().sort()).toEqual([knownId, orphan, terminal, silent].sort());

    const deauthed = await ops('terra-users', '--deauth', '--yes', '--json');
    expect(deauthed.code).toBe(0);
    expect(deauthed.json.deauthenticated).toBe(2);
    expect(deauthed.json.users).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ user_id: orphan, deauth: 'deauthenticated' }),
        expect.objectContaining({ user_id: terminal, deauth: 'deauthenticated' }),
      ]),
    );
    // Only the listed ones are gone at Terra; --stale was not asked, so the silent one stays.
    expect(sandboxUserIds().sort()).toEqual([knownId, silent].sort());
    await settle(stack);
    const after = await ops('terra-users', '--json');
    expect(after.json).toMatchObject({ terra_users: 2, users: [] });
  });
});
