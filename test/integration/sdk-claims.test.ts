import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mintSdkToken } from '#shared/connections/flows';
import { SDK_CLAIM_GRACE_MS } from '#shared/connections/sdk-claims';
import { ConnectionStore } from '#shared/store/connections';
import { DeliveryStore } from '#shared/store/deliveries';
import { SdkClaimStore } from '#shared/store/sdk-claims';
import { receiveWebhook } from '#shared/webhooks/receive';
import { createTestTables, type TestTables } from '../helpers/dynamo.ts';
import { signedHeaders } from '../helpers/signing.ts';
import { authSuccess, terraUser } from '../helpers/terra-fixtures.ts';
import { receiverDeps } from '../helpers/webhook.ts';

/**
 * The life of an SDK claim, with the clock in the test's hands: `POST /sdk-token`'s flow opens it for the
 * token's lifetime plus a grace period, the receiver (on DynamoDB Local) honours it while it runs, and
 * after that an SDK auth naming the app user is parked as if no one had asked.
 */
const SECRET = 'sdk-claims-secret';
const TOKEN_SECONDS = 180;

let tables: TestTables;
let clock: { now: number };

beforeAll(async () => {
  tables = await createTestTables();
});
beforeEach(() => {
  clock = { now: Date.now() };
});

const connections = () => new ConnectionStore(tables.doc, tables);
const inbox = () =>
  new DeliveryStore(tables.doc, tables.inboxTable, connections(), {
    leaseSeconds: 15,
    ttlDays: 30,
    now: () => clock.now,
  });

/** What `POST /sdk-token` does for `reference_id`, with Terra answering as its docs say (180 s). */
async function mint(reference_id: string) {
  return mintSdkToken(
    {
      terra: { generateAuthToken: async () => ({ token: randomUUID(), expires_in: TOKEN_SECONDS }) },
      claims: new SdkClaimStore(tables.doc, tables.inboxTable, () => clock.now),
      now: () => clock.now,
    },
    reference_id,
  );
}

/** Terra's `auth` for a new Apple Health user whose device said `reference_id`. */
async function sdkAuth(reference_id: string) {
  const user_id = randomUUID();
  const body = JSON.stringify(authSuccess({ user: terraUser({ user_id, reference_id, provider: 'APPLE' }) }));
  const deps = receiverDeps(tables, {
    secret: SECRET,
    archiveDir: mkdtempSync(join(tmpdir(), 'terra-sdk-')),
    now: () => clock.now,
  });
  const headers = signedHeaders(body, {
    secret: SECRET,
    timestamp: Math.floor(clock.now / 1000),
    traceId: `sdk-${user_id}`,
  });
  const result = await receiveWebhook(deps, { headers, body: Buffer.from(body) });
  return { user_id, result };
}

describe('an SDK claim', () => {
  it('lets an SDK auth naming its app user through until the token and the grace period are over', async () => {
    const reference_id = `app-${randomUUID()}`;
    await mint(reference_id);
    clock.now += TOKEN_SECONDS * 1000 + SDK_CLAIM_GRACE_MS - 1_000;
    const { user_id, result } = await sdkAuth(reference_id);
    expect(result.outcome).toBe('processed');
    expect(await connections().get(user_id)).toMatchObject({ reference_id, status: 'active' });
  });

  it('expires: an SDK auth after it is parked naming no one, and a drain does not give it to the app user', async () => {
    const reference_id = `app-${randomUUID()}`;
    await mint(reference_id);
    clock.now += TOKEN_SECONDS * 1000 + SDK_CLAIM_GRACE_MS + 1_000;
    const { user_id, result } = await sdkAuth(reference_id);
    expect(result.outcome).toBe('parked');
    const parked = await inbox().get(`sdk-${user_id}`);
    expect(parked).toMatchObject({ status: 'parked', outcome: 'unattributed', user_id });
    expect(parked?.reference_id).toBeUndefined();
    expect(parked?.archive_key.startsWith(`unattributed/${user_id}/`)).toBe(true);
    expect(await inbox().drain(user_id)).toBe(0);
    expect(await connections().owner(user_id)).toEqual({ state: 'missing' });
    expect(await connections().listByReference(reference_id)).toEqual([]);
  });

  it('is extended by a later token and never shortened by an earlier one', async () => {
    const reference_id = `app-${randomUUID()}`;
    const claims = new SdkClaimStore(tables.doc, tables.inboxTable, () => clock.now);
    await claims.open(reference_id, clock.now + 60_000);
    await claims.open(reference_id, clock.now + 10_000);
    clock.now += 30_000;
    expect(await claims.live(reference_id)).toBe(true);
    clock.now += 31_000;
    expect(await claims.live(reference_id)).toBe(false);
    expect(await claims.live(`app-${randomUUID()}`)).toBe(false);
  });
});
