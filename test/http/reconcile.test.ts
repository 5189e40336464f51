import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LocalStack } from '#local/stack';
import { type ReconcileDeps, reconcile } from '#shared/connections/reconcile';
import { logger } from '#shared/log';
import { CheckpointStore } from '#shared/store/checkpoints';
import { createDocumentClient } from '#shared/store/client';
import { ConnectionStore } from '#shared/store/connections';
import { TerraClient } from '#shared/terra/client';
import { AppUser, startTestStack } from '../helpers/local-stack.ts';

/**
 * The scheduled reconcile against the sandbox, with drift made the way it happens: Terra changes
 * things while its webhooks cannot reach us.
 */
let stack: LocalStack;
let deps: ReconcileDeps;

beforeAll(async () => {
  stack = await startTestStack();
  const doc = createDocumentClient({ dynamoEndpoint: stack.dynamoEndpoint });
  deps = {
    terra: new TerraClient({
      apiUrl: stack.terraApiUrl,
      widgetSessionUrl: `${sandbox().url}/api/widget/session`,
      widgetMode: 'widget-api',
      credentials: async () => ({ devId: 'local-dev-id', apiKey: 'local-api-key' }),
      timeoutMs: 2_000,
      maxAttempts: 2,
      deadlineMs: 5_000,
    }),
    connections: new ConnectionStore(doc, stack.tables),
    checkpoints: new CheckpointStore(doc, stack.tables.inboxTable),
    now: Date.now,
    log: logger,
  };
});
afterAll(async () => {
  await stack?.stop();
});
beforeEach(async () => {
  await deps.checkpoints.clear();
});

function sandbox() {
  if (!stack.sandbox) throw new Error('the sandbox is not running');
  return stack.sandbox;
}

async function sandboxUser(reference_id: string, provider: string, account: string): Promise<string> {
  const response = await fetch(`${sandbox().url}/sandbox/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ reference_id, provider, account }),
  });
  return ((await response.json()) as { user_id: string }).user_id;
}

async function offline<T>(run: () => Promise<T>): Promise<T> {
  sandbox().settings({ webhookUrl: 'http://127.0.0.1:9/unreachable', retryScheduleMs: [] });
  try {
    const result = await run();
    await sandbox().idle();
    return result;
  } finally {
    sandbox().settings({ webhookUrl: stack.webhookUrl, retryScheduleMs: [50, 100, 200] });
  }
}

async function deauthAtTerra(user_id: string): Promise<void> {
  const response = await fetch(`${stack.terraApiUrl}/auth/deauthenticateUser?user_id=${user_id}`, {
    method: 'DELETE',
    headers: { 'dev-id': 'local-dev-id', 'x-api-key': 'local-api-key' },
  });
  expect(response.status).toBe(200);
}

describe('reconcile', () => {
  it('repairs a missed auth and a missed deauth, and leaves the rest alone', async () => {
    const user = new AppUser(stack);
    const kept = await sandboxUser(user.sub, 'GARMIN', 'kept');
    const gone = await sandboxUser(user.sub, 'OURA', 'gone');
    await sandbox().idle();
    expect((await user.connections('?status=active')).map((c) => c.user_id).sort()).toEqual(
      [kept, gone].sort(),
    );

    const missed = await offline(async () => {
      const created = await sandboxUser(user.sub, 'WHOOP', 'missed');
      await deauthAtTerra(gone);
      return created;
    });

    const report = await reconcile(deps, { perPage: 1 });
    expect(report).toMatchObject({ finished: true, resumed: false, failed: 0 });
    expect(report.disconnected).toBeGreaterThanOrEqual(1);
    expect(report.pages).toBeGreaterThanOrEqual(2);
    const connections = await user.connections();
    expect(connections).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ user_id: kept, status: 'active' }),
        expect.objectContaining({ user_id: gone, status: 'disconnected' }),
        expect.objectContaining({ user_id: missed, status: 'active', provider: 'WHOOP' }),
      ]),
    );
    expect(await deps.checkpoints.load()).toBeUndefined();

    // A second run finds nothing to do.
    const again = await reconcile(deps, { perPage: 50 });
    expect(again).toMatchObject({ finished: true, disconnected: 0, failed: 0 });
  });

  it('resumes from its checkpoint after being cut short', async () => {
    const user = new AppUser(stack);
    const missed = await offline(async () => [
      await sandboxUser(user.sub, 'POLAR', 'p1'),
      await sandboxUser(user.sub, 'SUUNTO', 's1'),
      await sandboxUser(user.sub, 'COROS', 'c1'),
    ]);

    let saves = 0;
    const crash = () => {
      if (++saves === 2) throw new Error('the function was killed');
    };
    await expect(reconcile(deps, { perPage: 1, afterCheckpoint: crash })).rejects.toThrow('killed');
    const saved = await deps.checkpoints.load();
    expect(saved).toMatchObject({ phase: 'terra', next_page: 2 });

    const resumed = await reconcile(deps, { perPage: 1 });
    expect(resumed).toMatchObject({ resumed: true, finished: true, run_id: saved?.run_id, failed: 0 });
    const active = (await user.connections('?status=active')).map((c) => c.user_id);
    expect(active).toEqual(expect.arrayContaining(missed));
  });

  it("never creates a record for an SDK-only user: its reference is the device's word", async () => {
    const user = new AppUser(stack);
    const missed = await offline(() => sandboxUser(user.sub, 'APPLE', 'sdk-device'));
    const report = await reconcile(deps, { perPage: 100 });
    expect(report).toMatchObject({ finished: true, failed: 0 });
    expect((await user.connections()).map((c) => c.user_id)).not.toContain(missed);
  });

  it('stops before its deadline, saving where it was', async () => {
    const report = await reconcile(deps, { deadline: Date.now() });
    expect(report).toMatchObject({ finished: false, pages: 0 });
  });

  it('isolates one user’s failure and finishes the rest', async () => {
    const user = new AppUser(stack);
    const [bad, good] = await offline(async () => [
      await sandboxUser(user.sub, 'WITHINGS', 'bad'),
      await sandboxUser(user.sub, 'PELOTON', 'good'),
    ]);
    const apply = deps.connections.apply.bind(deps.connections);
    const spy = vi.spyOn(deps.connections, 'apply').mockImplementation(async (events) => {
      if (events[0]?.user_id === bad) throw new Error('ProvisionedThroughputExceededException');
      return apply(events);
    });
    try {
      const report = await reconcile(deps, { perPage: 100 });
      expect(report).toMatchObject({ finished: true, failed: 1 });
    } finally {
      spy.mockRestore();
    }
    const active = (await user.connections('?status=active')).map((c) => c.user_id);
    expect(active).toContain(good);
    expect(active).not.toContain(bad);
  });
});
