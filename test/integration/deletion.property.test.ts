import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TerraPort } from '#shared/connections/ports';
import { logger } from '#shared/log';
import {
  continueDeletion,
  type DeletionDeps,
  type DeletionJob,
  startDeletion,
} from '#shared/privacy/deletion';
import { BackfillStore } from '#shared/store/backfill';
import { ConnectionStore } from '#shared/store/connections';
import { DeletionStore } from '#shared/store/deletions';
import type { DeliveryStore } from '#shared/store/deliveries';
import { DirectoryArchive } from '#shared/webhooks/archive';
import { receiveWebhook } from '#shared/webhooks/receive';
import { createTestTables, type TestTables } from '../helpers/dynamo.ts';
import { signedHeaders } from '../helpers/signing.ts';
import {
  authCancelled,
  authSuccess,
  connectionError,
  dataEvent,
  deauth,
  permissionChange,
  terraUser,
} from '../helpers/terra-fixtures.ts';
import { receiverDeps } from '../helpers/webhook.ts';

/**
 * Deleting a user, property-based, against DynamoDB Local and a real directory archive: wherever the
 * deletion falls among a user's deliveries (before, between, racing them, with late copies after), once
 * it is done nothing of that user remains but its tombstones.
 */
const SECRET = 'deletion-property-secret';
const GRACE_MS = 150;
let tables: TestTables;

beforeAll(async () => {
  tables = await createTestTables();
});

type Kind =
  | 'auth'
  | 'data'
  | 'anonymous_data'
  | 'error'
  | 'scopes'
  | 'deauth'
  | 'stale'
  | 'cancelled'
  | 'stale_cancelled';
const kindArb = fc.constantFrom<Kind>(
  'auth',
  'data',
  'anonymous_data',
  'error',
  'scopes',
  'deauth',
  'stale',
  // Deliveries that name only the app user: a login the person cancelled, fresh or late.
  'cancelled',
  'stale_cancelled',
);

function payloadOf(kind: Kind, user_id: string, reference_id: string): unknown {
  const user = terraUser({ user_id, reference_id });
  switch (kind) {
    case 'auth':
      return authSuccess({ user });
    case 'data':
    case 'stale':
      return dataEvent('activity', { user });
    case 'anonymous_data':
      return dataEvent('sleep', { user: terraUser({ user_id, reference_id: null }) });
    case 'error':
      return connectionError({ user });
    case 'scopes':
      return permissionChange({ user });
    case 'deauth':
      return deauth({ user: terraUser({ user_id, reference_id: null }) });
    case 'cancelled':
    case 'stale_cancelled':
      return authCancelled({ reference_id, flow_id: `flow-${user_id}` });
  }
}

/** Terra for the deletion: it knows these users and forgets them when deauthenticated. */
function fakeTerra(
  users: Set<string>,
  reference_id: string,
): Pick<TerraPort, 'deauthenticateUser' | 'getUsersByReference'> {
  return {
    async deauthenticateUser(user_id) {
      return users.delete(user_id);
    },
    async getUsersByReference(reference) {
      return reference === reference_id
        ? [...users].map((user_id) => ({ user_id, provider: 'GARMIN', reference_id }))
        : [];
    },
  };
}

/** The deletion wired to the run's tables and a directory archive, with a short grace. */
function deletionDeps(terra: DeletionDeps['terra'], archiveDir: string): DeletionDeps {
  return {
    terra,
    records: new ConnectionStore(tables.doc, tables),
    jobs: new DeletionStore(tables.doc, tables, { tombstoneDays: 30, now: Date.now }),
    archive: new DirectoryArchive(archiveDir),
    graceMs: GRACE_MS,
    now: Date.now,
    log: logger,
  };
}

const isTombstone = (item: Record<string, unknown>) =>
  String(item.event_id).startsWith('owner#') &&
  item.deleted_at !== undefined &&
  item.reference_id === undefined;

/** Each Terra user's owner guard as it stands: [user_id, is a tombstone]. */
async function tombstonesOf(user_ids: readonly string[]): Promise<Array<[string, boolean]>> {
  const store = new ConnectionStore(tables.doc, tables);
  const owners = await store.owners(user_ids);
  return [...user_ids].sort().map((user_id) => [user_id, owners.get(user_id)?.state === 'deleted']);
}

/** Starts a deletion and continues it, as the worker would, until it is done. */
async function deleteToTheEnd(deps: DeletionDeps, reference_id: string): Promise<DeletionJob> {
  let job = await startDeletion(deps, reference_id);
  while (job.status !== 'done') {
    job = await continueDeletion(deps, job, Date.now() + 5_000);
    if (job.status !== 'done') await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return job;
}

let run = 0;

describe('deleting a user, property-based', () => {
  it('leaves nothing of the user wherever the deletion falls among its deliveries', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ kind: kindArb, user: fc.nat({ max: 1 }) }), { minLength: 1, maxLength: 10 }),
        fc.nat(),
        fc.nat({ max: 4 }),
        fc.array(fc.nat(), { maxLength: 3 }),
        async (deliveries, split, racing, lateCopies) => {
          run++;
          const reference_id = `ref-${run}-${Date.now()}`;
          const user_ids = [`del-a-${run}-${Date.now()}`, `del-b-${run}-${Date.now()}`];
          const archiveDir = mkdtempSync(join(tmpdir(), 'terra-del-'));
          const webhook = receiverDeps(tables, { secret: SECRET, archiveDir });
          const sent = deliveries.map((delivery, i) => {
            const body = JSON.stringify(
              payloadOf(delivery.kind, user_ids[delivery.user] ?? '', reference_id),
            );
            const now = Math.floor(Date.now() / 1000);
            const timestamp =
              delivery.kind === 'stale' || delivery.kind === 'stale_cancelled' ? now - 3600 : now;
            return {
              body,
              headers: signedHeaders(body, { secret: SECRET, traceId: `t-${run}-${i}`, timestamp }),
            };
          });
          const send = (index: number) => {
            const delivery = sent[index % sent.length];
            if (!delivery) return Promise.resolve();
            // Re-signed now: a copy Terra retries later carries a fresh signature (stale ones stay stale).
            return receiveWebhook(webhook, { headers: delivery.headers, body: Buffer.from(delivery.body) });
          };

          const cut = split % (sent.length + 1);
          for (let i = 0; i < cut; i++) await send(i);
          const atTerra = new Set(user_ids);
          const deps = deletionDeps(fakeTerra(atTerra, reference_id), archiveDir);
          // The deletion, racing the deliveries after the cut.
          const deletion = deleteToTheEnd(deps, reference_id);
          await Promise.all([
            deletion,
            ...Array.from({ length: Math.min(racing, sent.length - cut) }, (_, i) => send(cut + i)),
          ]);
          // Whatever is left arrives late, and Terra retries some once more.
          for (let i = cut + racing; i < sent.length; i++) await send(i);
          for (const copy of lateCopies) await send(copy);

          // Terra holds neither Terra user any more: the deletion deauthenticated both.
          expect([...atTerra]).toEqual([]);
          const ids = new Set(user_ids);
          const connections = (
            (
              await tables.doc.send(
                new ScanCommand({ TableName: tables.connectionsTable, ConsistentRead: true }),
              )
            ).Items ?? []
          ).filter((item) => ids.has(String(item.user_id)));
          // No record left, and exactly one tombstone per Terra user, in place of its owner guard.
          expect(connections).toEqual([]);
          expect(await tombstonesOf(user_ids)).toEqual(
            [...user_ids].sort().map((user_id) => [user_id, true]),
          );
          const deliveriesLeft = (
            (await tables.doc.send(new ScanCommand({ TableName: tables.inboxTable }))).Items ?? []
          ).filter(
            (item) =>
              (ids.has(String(item.user_id)) || item.reference_id === reference_id) &&
              !String(item.event_id).startsWith('deletion#') &&
              !isTombstone(item),
          );
          // No delivery, parked or not, no data request, no parked list.
          expect(deliveriesLeft).toEqual([]);
          const files = readdirSync(archiveDir, { recursive: true, withFileTypes: true })
            .filter((entry) => entry.isFile())
            .map((entry) => join(entry.parentPath, entry.name))
            .filter(
              (path) =>
                user_ids.some((user_id) => path.includes(user_id)) ||
                path.includes(encodeURIComponent(reference_id)),
            );
          expect(files).toEqual([]);
        },
      ),
      { numRuns: 25 },
    );
  }, 180_000);
});

describe('deleting a user while the person is still connecting', () => {
  it('deletes the Terra users that connected while it ran: a reconnect, a login, a data event for a new user', async () => {
    run++;
    const stamp = `${run}-${Date.now()}`;
    const reference_id = `ref-mid-${stamp}`;
    const first = `mid-a-${stamp}`;
    const reconnected = `mid-b-${stamp}`;
    const newcomer = `mid-c-${stamp}`;
    const archiveDir = mkdtempSync(join(tmpdir(), 'terra-del-mid-'));
    const webhook = receiverDeps(tables, { secret: SECRET, archiveDir });
    const deliver = (payload: unknown, i: number) => {
      const body = JSON.stringify(payload);
      return receiveWebhook(webhook, {
        headers: signedHeaders(body, { secret: SECRET, traceId: `mid-${stamp}-${i}` }),
        body: Buffer.from(body),
      });
    };
    const atTerra = new Set([first]);
    const terra = fakeTerra(atTerra, reference_id);
    expect(
      (await deliver(authSuccess({ user: terraUser({ user_id: first, reference_id }) }), 0)).outcome,
    ).toBe('processed');

    let landed = false;
    // The person logs in again while their first Terra user is being deauthenticated: Terra now holds a
    // second user, whose auth and data land here, and a third whose data comes first.
    const deps = deletionDeps(
      {
        ...terra,
        async deauthenticateUser(user_id) {
          const done = await terra.deauthenticateUser(user_id);
          if (!landed) {
            landed = true;
            atTerra.add(reconnected);
            atTerra.add(newcomer);
            const user = terraUser({ user_id: reconnected, reference_id });
            expect((await deliver(authSuccess({ user }), 1)).outcome).toBe('processed');
            expect((await deliver(dataEvent('activity', { user }), 2)).outcome).toBe('processed');
            const newUser = terraUser({ user_id: newcomer, reference_id });
            expect((await deliver(dataEvent('sleep', { user: newUser }), 3)).outcome).toBe('processed');
          }
          return done;
        },
      },
      archiveDir,
    );
    const job = await deleteToTheEnd(deps, reference_id);

    expect(landed).toBe(true);
    expect(job.user_ids).toEqual([first, reconnected, newcomer].sort());
    expect([...atTerra]).toEqual([]);
    const ids = new Set([first, reconnected, newcomer]);
    const items = (
      (await tables.doc.send(new ScanCommand({ TableName: tables.connectionsTable, ConsistentRead: true })))
        .Items ?? []
    ).filter((item) => ids.has(String(item.user_id)));
    expect(items).toEqual([]);
    expect(await tombstonesOf([...ids])).toEqual([...ids].sort().map((user_id) => [user_id, true]));
    const files = readdirSync(archiveDir, { recursive: true, withFileTypes: true }).filter((entry) =>
      entry.isFile(),
    );
    expect(files.map((entry) => entry.name)).toEqual([]);
  });
});

describe('deleting a user with parked deliveries', () => {
  it('finds a parked delivery that names the person, though no record does, and leaves nothing of it', async () => {
    run++;
    const stamp = `${run}-${Date.now()}`;
    const reference_id = `ref-parked-${stamp}`;
    const user_id = `parked-${stamp}`;
    const archiveDir = mkdtempSync(join(tmpdir(), 'terra-del-parked-'));
    const webhook = receiverDeps(tables, { secret: SECRET, archiveDir });
    const inbox = webhook.deliveries as DeliveryStore;
    // Parked as the receiver parks (archived under unattributed/<user_id>/), but naming the person: what an
    // SDK connection without the app user's claim leaves.
    const archive_key = `unattributed/${user_id}/2026/12/05/p-${stamp}.0123456789abcdef.json`;
    await new DirectoryArchive(archiveDir).put(archive_key, Buffer.from('{"type":"auth"}'));
    const facts = {
      event_id: `p-${stamp}`,
      type: 'auth',
      archive_key,
      bytes: 15,
      received_at: Date.now(),
      at: Date.now(),
      signed_at: Math.floor(Date.now() / 1000),
      user_id,
      reference_id,
      parked: true,
    };
    expect(await inbox.park(facts, [], [user_id])).toBe('parked');
    // Terra does not list it under the person, and no record names it: only the parked delivery does.
    const job = await deleteToTheEnd(
      deletionDeps(fakeTerra(new Set(), reference_id), archiveDir),
      reference_id,
    );
    expect(job.user_ids).toEqual([user_id]);
    expect(await inbox.get(facts.event_id)).toBeUndefined();
    expect(await tombstonesOf([user_id])).toEqual([[user_id, true]]);
    const files = readdirSync(archiveDir, { recursive: true, withFileTypes: true }).filter((entry) =>
      entry.isFile(),
    );
    expect(files).toEqual([]);
  });
});

describe('a tombstone written by a deletion that stopped midway', () => {
  it('still leads the next attempt to the record and the data requests the guard pointed at', async () => {
    run++;
    const stamp = `${run}-${Date.now()}`;
    const reference_id = `ref-midway-${stamp}`;
    const user_id = `midway-${stamp}`;
    const store = new ConnectionStore(tables.doc, tables);
    await store.apply([
      { user_id, reference_id, event_id: 'e1', at: Date.now(), change: { kind: 'authenticated' } },
    ]);
    await new BackfillStore(tables.doc, tables).track(user_id, 'req-1', { data_type: 'sleep' });
    // The first attempt marked the guard and died before deleting anything.
    await tables.doc.send(
      new UpdateCommand({
        TableName: tables.inboxTable,
        Key: { event_id: `owner#${user_id}` },
        UpdateExpression: 'SET deleted_at = :at',
        ExpressionAttributeValues: { ':at': new Date().toISOString() },
      }),
    );
    expect(await store.owner(user_id)).toMatchObject({ state: 'deleted' });
    const jobs = new DeletionStore(tables.doc, tables, { tombstoneDays: 30, now: Date.now });
    await jobs.tombstone(user_id, Date.now());
    expect(await store.listByReference(reference_id)).toEqual([]);
    const inbox = (await tables.doc.send(new ScanCommand({ TableName: tables.inboxTable }))).Items ?? [];
    expect(inbox.filter((item) => item.user_id === user_id).map((item) => Object.keys(item).sort())).toEqual([
      ['deleted_at', 'event_id', 'expires_at', 'user_id'],
    ]);
  });
});
