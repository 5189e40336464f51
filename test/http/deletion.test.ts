import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '#local/stack';
import { createDocumentClient } from '#shared/store/client';
import { referencePrefixes, userPrefixes } from '#shared/webhooks/archive';
import { conformingTypes } from '../helpers/event-contracts.ts';
import { connectAtSandbox, eventsFor, eventually, fireAtSandbox, settle } from '../helpers/events.ts';
import { AppUser, decideAtLogin, followCallback, startTestStack } from '../helpers/local-stack.ts';
import { signedHeaders } from '../helpers/signing.ts';
import { dataEvent, deauth, terraUser } from '../helpers/terra-fixtures.ts';

/**
 * Deleting a person everywhere, end to end in local mode: at Terra (the sandbox), in both tables, in
 * the archive, with Terra's late webhooks arriving after it.
 */
let stack: LocalStack;

beforeAll(async () => {
  stack = await startTestStack({ env: { DELETION_GRACE_SECONDS: '1', DELETION_BUDGET_MS: '2000' } });
});
afterAll(async () => {
  await stack?.stop();
});

async function scan(table: string): Promise<Array<Record<string, unknown>>> {
  const doc = createDocumentClient({ dynamoEndpoint: stack.dynamoEndpoint });
  const items: Array<Record<string, unknown>> = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(new ScanCommand({ TableName: table, ExclusiveStartKey }));
    items.push(...((page.Items ?? []) as Array<Record<string, unknown>>));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  doc.destroy();
  return items;
}

function archived(prefix: string): string[] {
  const dir = join(stack.archiveDir, prefix);
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => entry.name);
}

/** Everything the backend holds about these Terra users and this app user, tombstones apart. */
async function leftOf(user_ids: string[], reference_id: string) {
  const ids = new Set(user_ids);
  const connections = (await scan(stack.tables.connectionsTable)).filter(
    (item) => ids.has(String(item.user_id)) || item.reference_id === reference_id,
  );
  const inbox = await scan(stack.tables.inboxTable);
  // A deleted Terra user's owner guard becomes its tombstone (docs/decisions/0020).
  const isTombstone = (item: Record<string, unknown>) =>
    String(item.event_id).startsWith('owner#') &&
    item.deleted_at !== undefined &&
    item.reference_id === undefined;
  const tombstones = inbox.filter((item) => ids.has(String(item.user_id)) && isTombstone(item));
  const deliveries = inbox.filter(
    (item) =>
      !isTombstone(item) &&
      (ids.has(String(item.user_id)) ||
        (item.reference_id === reference_id && !String(item.event_id).startsWith('deletion#'))),
  );
  const files = [
    ...user_ids.flatMap((user_id) => userPrefixes(user_id).flatMap((prefix) => archived(prefix))),
    ...referencePrefixes(reference_id).flatMap((prefix) => archived(prefix)),
  ];
  return {
    other: connections.filter((item) => item.deleted_at === undefined),
    tombstones,
    deliveries,
    files,
  };
}

async function finished(user: AppUser) {
  await eventually(
    stack,
    async () => {
      await stack.deletions.idle();
      const status = await user.call('GET', '/me/deletion');
      expect(status.body.status).toBe('done');
    },
    80,
  );
}

describe('identities people have', () => {
  it.each([
    ['an email with a plus', `ana+terra-${randomUUID()}@example.com`],
    ['a name with a space and accents', `José Müller ${randomUUID()}`],
    ['a name in another script', `山田 太郎 ${randomUUID()}`],
    ['an apostrophe and a hyphen', `Zoë O'Brien-Smith ${randomUUID()}`],
  ])(
    '%s: connected through Terra, its history archived and announced, then deleted everywhere',
    async (_name, sub) => {
      const person = new AppUser(stack, sub);
      const created = await person.call('POST', '/connections', { provider: 'OURA' });
      expect(created.status).toBe(201);
      const user_id = String(created.body.user_id);
      const landing = await followCallback(await decideAtLogin(String(created.body.auth_url), 'approve'));
      expect(landing.searchParams.get('status')).toBe('active');
      await eventually(stack, async () => {
        const [connection] = await person.connections();
        expect(connection).toMatchObject({ user_id, status: 'active' });
        expect(connection?.backfill?.status).toBe('complete');
      });
      expect(stack.sandbox?.users().filter((terra) => terra.reference_id === sub)).toHaveLength(1);
      expect((await leftOf([user_id], sub)).files.length).toBeGreaterThan(0);
      expect(eventsFor(stack, { reference_id: sub, type: 'terra.data' }).length).toBeGreaterThan(0);

      expect([202, 204]).toContain((await person.call('DELETE', '/me')).status);
      await finished(person);
      await settle(stack);
      expect(stack.sandbox?.users().filter((terra) => terra.reference_id === sub)).toEqual([]);
      const left = await leftOf([user_id], sub);
      expect(left.other).toEqual([]);
      expect(left.deliveries).toEqual([]);
      expect(left.files).toEqual([]);
      expect(eventsFor(stack, { reference_id: sub, type: 'terra.user_deleted' })).toHaveLength(1);
    },
  );
});

describe('DELETE /me', () => {
  it('deletes a person everywhere: at Terra, in the tables, in the archive; late webhooks bring nothing back', async () => {
    const user = new AppUser(stack);
    const garmin = await connectAtSandbox(stack, user.sub, 'GARMIN');
    const oura = await connectAtSandbox(stack, user.sub, 'OURA');
    await eventually(stack, async () => {
      const connections = await user.connections();
      expect(connections.map((c) => c.backfill?.status)).toEqual(['complete', 'complete']);
    });
    await fireAtSandbox(stack, garmin, 'sleep');
    await settle(stack);
    expect((await leftOf([garmin, oura], user.sub)).files.length).toBeGreaterThan(4);

    const started = await user.call('DELETE', '/me');
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({
      deletion_id: expect.any(String),
      status: 'running',
      connections: 2,
    });
    await finished(user);

    // Terra (the sandbox) holds no user of this person any more; its deauth webhooks arrived late.
    expect(stack.sandbox?.users().filter((terra) => terra.reference_id === user.sub)).toEqual([]);
    await settle(stack);
    const delivered = stack.sandbox
      ?.deliveries()
      .filter((d) => d.type === 'deauth' && (d.user_id === garmin || d.user_id === oura));
    expect(delivered?.map((d) => d.status)).toEqual(['delivered', 'delivered']);

    // More late deliveries: a retried data event and a deauth without reference_id.
    for (const payload of [
      dataEvent('daily', { user: terraUser({ user_id: garmin, reference_id: user.sub }) }),
      deauth({ user: terraUser({ user_id: oura, reference_id: null }) }),
    ]) {
      const body = JSON.stringify(payload);
      const response = await fetch(stack.webhookUrl, {
        method: 'POST',
        headers: signedHeaders(body, { secret: stack.signingSecret, traceId: randomUUID() }),
        body,
      });
      expect(response.status).toBe(200);
      expect(((await response.json()) as { outcome: string }).outcome).toBe('deleted_user');
    }
    await settle(stack);

    const left = await leftOf([garmin, oura], user.sub);
    expect(left.other).toEqual([]);
    expect(left.deliveries).toEqual([]);
    expect(left.files).toEqual([]);
    // Not even the folders named after the Terra users (local mode's archive is a directory).
    for (const user_id of [garmin, oura])
      expect(existsSync(join(stack.archiveDir, 'users', user_id))).toBe(false);
    // Only tombstones: the Terra user id and a time, nothing else.
    expect(left.tombstones.map((item) => Object.keys(item).sort())).toEqual([
      ['deleted_at', 'event_id', 'expires_at', 'user_id'],
      ['deleted_at', 'event_id', 'expires_at', 'user_id'],
    ]);
    expect(await user.connections()).toEqual([]);
    const announced = eventsFor(stack, { reference_id: user.sub, type: 'terra.user_deleted' });
    expect(announced).toHaveLength(1);
    expect([...((announced[0]?.detail.user_ids as string[] | undefined) ?? [])].sort()).toEqual(
      [garmin, oura].sort(),
    );
  });

  it('deletes what the person connects while the deletion runs (a login at Terra, a connection started here), at Terra and here', async () => {
    const user = new AppUser(stack);
    const garmin = await connectAtSandbox(stack, user.sub, 'GARMIN');
    await settle(stack);
    expect((await user.call('DELETE', '/me')).status).toBe(202);
    // Another tab, a moment later: a second login completes at Terra and its webhooks land here.
    const oura = await connectAtSandbox(stack, user.sub, 'OURA');
    await fireAtSandbox(stack, oura, 'activity');
    // And a connection started through this API, left pending.
    const started = await user.call('POST', '/connections', { provider: 'WHOOP' });
    expect(started.status).toBe(201);
    const pending = String(started.body.user_id);
    await finished(user);
    await settle(stack);

    expect((await user.call('GET', '/me/deletion')).body).toMatchObject({ status: 'done', connections: 3 });
    expect(await user.connections()).toEqual([]);
    expect(stack.sandbox?.users().filter((terra) => terra.reference_id === user.sub)).toEqual([]);
    const left = await leftOf([garmin, oura, pending], user.sub);
    expect(left.other).toEqual([]);
    expect(left.deliveries).toEqual([]);
    expect(left.files).toEqual([]);
    const announced = eventsFor(stack, { reference_id: user.sub, type: 'terra.user_deleted' });
    expect([...((announced[0]?.detail.user_ids as string[] | undefined) ?? [])].sort()).toEqual(
      [garmin, oura, pending].sort(),
    );
  });

  it('connects, receives and deletes an identity of 256 characters, however long its archive key would be, leaving nothing', async () => {
    // The longest identity the API accepts, every '@' three bytes once encoded: 512 bytes as a key segment.
    const user = new AppUser(stack, `${'a@'.repeat(127)}${randomUUID().slice(0, 2)}`);
    expect(user.sub).toHaveLength(256);
    const garmin = await connectAtSandbox(stack, user.sub, 'GARMIN');
    await fireAtSandbox(stack, garmin, 'sleep');
    // A login cancelled at Terra: its delivery names only the app user.
    const started = await user.call('POST', '/connections', { provider: 'OURA' });
    expect(started.status).toBe(201);
    await decideAtLogin(String(started.body.auth_url), 'cancel');
    await settle(stack);
    const cancelled = stack.sandbox
      ?.deliveries()
      .filter((d) => d.type === 'auth_cancelled')
      .at(-1);
    expect(cancelled?.status).toBe('delivered');
    const before = await leftOf([garmin], user.sub);
    expect(before.deliveries.map((d) => d.type).sort()).toEqual(
      expect.arrayContaining(['auth', 'auth_cancelled', 'sleep']),
    );
    expect(before.files.length).toBeGreaterThanOrEqual(3);
    // The cancelled login, kept under the app user's own (bounded) prefix.
    expect(referencePrefixes(user.sub).flatMap((prefix) => archived(prefix))).toHaveLength(1);

    expect((await user.call('DELETE', '/me')).status).toBe(202);
    await finished(user);
    await settle(stack);
    const left = await leftOf([garmin], user.sub);
    expect(left.other).toEqual([]);
    expect(left.deliveries).toEqual([]);
    expect(left.files).toEqual([]);
    // Nothing under any folder named after the identity, bounded or not.
    const readable = encodeURIComponent(user.sub).slice(0, 100);
    for (const zone of ['references', join('quarantine', '_references')]) {
      const dir = join(stack.archiveDir, zone);
      const named = existsSync(dir) ? readdirSync(dir).filter((name) => name.startsWith(readable)) : [];
      expect(named).toEqual([]);
    }
  });

  it('answers 204 when it finishes inside the request: an app user with nothing connected', async () => {
    const user = new AppUser(stack);
    expect((await user.call('DELETE', '/me')).status).toBe(204);
    expect((await user.call('GET', '/me/deletion')).body).toMatchObject({ status: 'done', connections: 0 });
  });

  it("shows only the caller's own deletion, and 404 before there is one", async () => {
    const user = new AppUser(stack);
    expect((await user.call('GET', '/me/deletion')).status).toBe(404);
    const other = new AppUser(stack);
    await other.call('DELETE', '/me');
    expect((await user.call('GET', '/me/deletion')).status).toBe(404);
  });

  it('answers every one of many concurrent DELETE /me with the same deletion, never a 500', async () => {
    const user = new AppUser(stack);
    await connectAtSandbox(stack, user.sub, 'GARMIN');
    await connectAtSandbox(stack, user.sub, 'OURA');
    await settle(stack);
    const answers = await Promise.all(Array.from({ length: 6 }, () => user.call('DELETE', '/me')));
    // Two Terra users and a grace period: none of them can finish inside its request, all join one job.
    expect(answers.map((answer) => answer.status)).toEqual(Array(6).fill(202));
    const ids = new Set(answers.map((answer) => answer.body.deletion_id));
    expect(ids.size).toBe(1);
    await finished(user);
    const done = (await user.call('GET', '/me/deletion')).body;
    expect(done.deletion_id).toBe([...ids][0]);
    expect(done).toMatchObject({ status: 'done', connections: 2 });
    expect(await user.connections()).toEqual([]);
  });

  it('starts again when asked again after a deletion finished', async () => {
    const user = new AppUser(stack);
    const first = await user.call('DELETE', '/me');
    expect(first.status).toBe(204);
    const id = (await user.call('GET', '/me/deletion')).body.deletion_id;
    await connectAtSandbox(stack, user.sub, 'WHOOP');
    await settle(stack);
    expect((await user.call('DELETE', '/me')).status).toBe(202);
    await finished(user);
    expect((await user.call('GET', '/me/deletion')).body.deletion_id).not.toBe(id);
    expect(await user.connections()).toEqual([]);
  });
});

describe('the event contracts', () => {
  it('held every terra.user_deleted published here to its JSON Schema', () => {
    expect(conformingTypes).toContain('terra.user_deleted');
  });
});
