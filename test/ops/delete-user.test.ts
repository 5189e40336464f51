import { existsSync, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { LocalStack } from '#local/stack';
import { connectAtSandbox, eventsFor, eventually, fireAtSandbox } from '../helpers/events.ts';
import { AppUser, startTestStack } from '../helpers/local-stack.ts';
import { signedHeaders } from '../helpers/signing.ts';
import { dataEvent, s3Payload, terraUser } from '../helpers/terra-fixtures.ts';
import { opsAgainst } from './run-ops.ts';

/**
 * `ops delete-user`: the same deletion as `DELETE /me`, run to the end from the CLI (the grace period
 * before the last sweep waited out), end to end against the local stack and its sandbox.
 */
vi.setConfig({ testTimeout: 120_000 });

let stack: LocalStack;
let ops: ReturnType<typeof opsAgainst>;

beforeAll(async () => {
  stack = await startTestStack();
  // The grace the CLI waits out before its last sweep: one second here, as the stack's own.
  ops = opsAgainst(stack.dataDir, { DELETION_GRACE_SECONDS: '1' });
});
afterAll(async () => {
  await stack?.stop();
});

/** The files left under a directory (a deletion removes files; empty directories may stay). */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => entry.name);
}

describe('delete-user', () => {
  it('deletes an app user everywhere and waits until it is done', async () => {
    const user = new AppUser(stack);
    const user_id = await connectAtSandbox(stack, user.sub, 'GARMIN');
    await fireAtSandbox(stack, user_id, 'activity');
    await eventually(stack, async () => {
      const [connection] = await user.connections();
      expect(connection).toMatchObject({
        user_id,
        status: 'active',
        last_webhook_update: expect.any(String),
      });
    });
    const before = await ops('connection', user.sub, '--json');
    expect(before.code).toBe(0);
    expect((before.json.deliveries as unknown[]).length).toBeGreaterThan(1);

    const run = await ops('delete-user', user.sub, '--yes', '--json');
    expect(run.code, run.stderr).toBe(0);
    const deletion = run.json.deletion as Record<string, unknown>;
    expect(deletion).toEqual({
      deletion_id: expect.any(String),
      status: 'done',
      started_at: expect.any(String),
      finished_at: expect.any(String),
      connections: 1,
      deliveries: expect.any(Number),
      payloads: expect.any(Number),
    });
    expect(deletion.deliveries).toBeGreaterThan(1);
    // It waited out the grace before the last sweep.
    expect(
      Date.parse(String(deletion.finished_at)) - Date.parse(String(deletion.started_at)),
    ).toBeGreaterThanOrEqual(1_000);

    // The same deletion DELETE /me would have made: the app sees it done, and is told.
    expect((await user.call('GET', '/me/deletion')).body).toMatchObject({
      deletion_id: deletion.deletion_id,
      status: 'done',
    });
    await eventually(stack, () => {
      expect(eventsFor(stack, { reference_id: user.sub, type: 'terra.user_deleted' })).toHaveLength(1);
    });
    // Gone at Terra, in the tables (a tombstone stands in), in the archive.
    expect(stack.sandbox?.users().map((terraUser) => terraUser.user_id)).not.toContain(user_id);
    expect(await user.connections()).toEqual([]);
    const tombstone = await ops('connection', user_id, '--json');
    expect(tombstone.json).toMatchObject({
      by: 'user_id',
      connections: [{ user_id, state: 'deleted' }],
      deliveries: [],
    });
    expect(filesUnder(join(stack.archiveDir, 'users', user_id))).toEqual([]);
    expect((await ops('connection', user.sub, '--json')).code).toBe(3);

    // Asked again: a new deletion that finds nothing left. The human view names no Terra user.
    const again = await ops('delete-user', user.sub, '--yes');
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/status\s+done/);
    expect(again.stdout).toMatch(/connections\s+0/);
    expect(again.stdout).not.toContain(user_id);
  });

  it('refuses identities the API refuses (., .., a space at an end, controls, invisible characters, over 256), deleting nothing', {
    timeout: 300_000,
  }, async () => {
    for (const id of ['..', '.', '...', ' a', '\u001b[2J', 'a\u200bb', 'x'.repeat(257)]) {
      const run = await ops('delete-user', id, '--yes', '--json');
      expect(run.code, id).toBe(2);
      expect((run.json.error as Record<string, unknown>).message, id).toContain(
        'not an app identity the API accepts',
      );
    }
  });

  it('leaves no stale delivery behind that a replay finds to be a deleted user’s', async () => {
    const user = new AppUser(stack);
    const user_id = await connectAtSandbox(stack, user.sub, 'GARMIN');
    // Terra's notification of a large payload names nobody: quarantined late, it sits where no
    // deletion of the person looks, and only its download says whose it is.
    const payload = JSON.stringify(
      dataEvent('activity', { user: terraUser({ user_id, reference_id: user.sub }) }),
    );
    const server = createServer((_request, response) => response.end(payload));
    await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/payload.json`;
      const body = JSON.stringify(s3Payload({ url }));
      const traceId = `trace-${user_id}-large`;
      const late = await fetch(stack.webhookUrl, {
        method: 'POST',
        headers: signedHeaders(body, {
          secret: stack.signingSecret,
          traceId,
          timestamp: Math.floor(Date.now() / 1000) - 3600,
        }),
        body,
      });
      expect(late.status).toBe(401);
      expect((await ops('delete-user', user.sub, '--yes', '--json')).code).toBe(0);
      const stale = await ops('delivery', traceId, '--json');
      expect(stale.json.delivery).toMatchObject({ status: 'stale', type: 's3_payload' });

      const replayed = await ops('replay', traceId, '--json');
      expect(replayed.code, replayed.stderr).toBe(0);
      expect(replayed.json.results).toEqual([
        expect.objectContaining({ event_id: traceId, outcome: 'deleted_user', previous_status: 'stale' }),
      ]);
      // Resolved: no record left for ops to list, nothing of the person in the quarantine.
      expect((await ops('delivery', traceId, '--json')).code).toBe(3);
      const attention = await ops('deliveries', '--status', 'stale', '--json');
      expect(
        (attention.json.deliveries as Array<Record<string, unknown>>).map((row) => row.event_id),
      ).not.toContain(traceId);
      expect(
        filesUnder(join(stack.archiveDir, 'quarantine')).filter((name) => name.includes(traceId)),
      ).toEqual([]);
    } finally {
      server.close();
    }
  });
});
