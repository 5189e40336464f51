import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ConnectionEvent } from '#shared/connections/model';
import { toConnection } from '#shared/connections/model';
import { ConnectionStore } from '#shared/store/connections';
import type { DeliveryStore } from '#shared/store/deliveries';
import { parseWebhook } from '#shared/terra/events';
import { receiveWebhook } from '#shared/webhooks/receive';
import { createTestTables, parkedUsers, type TestTables } from '../helpers/dynamo.ts';
import { signedHeaders } from '../helpers/signing.ts';
import {
  authSuccess,
  connectionError,
  dataEvent,
  deauth,
  permissionChange,
  terraUser,
} from '../helpers/terra-fixtures.ts';
import { receiverDeps } from '../helpers/webhook.ts';
import { referenceConnection, referenceOwner } from '../property/reference-model.ts';

/**
 * One record per Terra user, under its owner, whatever the order and duplication of its deliveries, when
 * some name the app user and some do not (docs/decisions/0020): against DynamoDB Local, through the
 * receiver, with the publisher's drain, compared with the independent model (test/property/reference-model.ts).
 */
const SECRET = 'attribution-secret';
let tables: TestTables;

beforeAll(async () => {
  tables = await createTestTables();
});

type Kind = 'auth' | 'data' | 'deauth' | 'error' | 'scopes';
const KINDS: readonly Kind[] = ['auth', 'data', 'deauth', 'error', 'scopes'];

function payloadOf(kind: Kind, user_id: string, reference_id: string | null): unknown {
  const user = terraUser({ user_id, reference_id });
  switch (kind) {
    case 'auth':
      return authSuccess({ user });
    case 'data':
      return dataEvent('activity', { user });
    case 'deauth':
      return deauth({ user });
    case 'error':
      return connectionError({ user });
    case 'scopes':
      return permissionChange({ user });
  }
}

describe('attribution, property-based', () => {
  it('ends with one record per Terra user, under the app user, equal to the model, whatever the order, duplicates and missing references', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        // The deliveries Terra makes for one Terra user: an auth that names the app user, and others that
        // may or may not name it, each at its own time.
        fc.array(fc.record({ kind: fc.constantFrom(...KINDS), named: fc.boolean() }), {
          minLength: 1,
          maxLength: 5,
        }),
        fc.array(fc.nat(), { minLength: 12, maxLength: 12 }),
        async (others, order) => {
          run++;
          const user_id = `attr-${run}-${Math.random().toString(36).slice(2, 10)}`;
          const reference_id = `app-${user_id}`;
          const base = Math.floor(Date.now() / 1000) - 100;
          const deliveries = [{ kind: 'auth' as Kind, named: true }, ...others].map((spec, i) => ({
            payload: payloadOf(spec.kind, user_id, spec.named ? reference_id : null),
            at: base + i,
            traceId: `t-${user_id}-${i}`,
          }));
          // Every delivery at least once, some twice, in an order the generator picks.
          const copies = [...deliveries, ...deliveries.filter((_, i) => (order[i] ?? 0) % 2 === 0)]
            .map((delivery, i) => ({ delivery, key: order[i % order.length] ?? i }))
            .sort((a, b) => a.key - b.key)
            .map(({ delivery }) => delivery);
          const archiveDir = mkdtempSync(join(tmpdir(), 'attribution-'));
          const deps = receiverDeps(tables, { secret: SECRET, archiveDir });
          const inbox = deps.deliveries as DeliveryStore;
          for (const delivery of copies) {
            const body = JSON.stringify(delivery.payload);
            const send = () =>
              receiveWebhook(deps, {
                headers: signedHeaders(body, {
                  secret: SECRET,
                  timestamp: delivery.at,
                  traceId: delivery.traceId,
                }),
                body: Buffer.from(body),
              });
            // A copy that raced the owner answers 500: Terra retries it.
            const first = await send();
            if (first.status === 500) expect((await send()).status).toBe(200);
            else expect(first.status).toBe(200);
          }
          // What the publisher does when the Terra user's first record commits.
          await inbox.drain(user_id);

          const events: ConnectionEvent[] = deliveries.flatMap((delivery) => {
            const parsed = parseWebhook(delivery.payload, {
              event_id: delivery.traceId,
              at: delivery.at * 1000,
            });
            if (parsed.kind === 'connection') return parsed.events;
            return parsed.kind === 'data' ? [parsed.event] : [];
          });
          const { Items = [] } = await tables.doc.send(
            new ScanCommand({
              TableName: tables.connectionsTable,
              FilterExpression: 'user_id = :u',
              ExpressionAttributeValues: { ':u': user_id },
              ConsistentRead: true,
            }),
          );
          expect(Items.map((item) => item.reference_id)).toEqual([referenceOwner(events) ?? reference_id]);
          const store = new ConnectionStore(tables.doc, tables);
          const record = await store.get(user_id);
          expect(record && toConnection(record)).toEqual(referenceConnection(events));
          expect(await parkedUsers(tables.doc, tables.inboxTable)).not.toContain(user_id);
        },
      ),
      { numRuns: 25 },
    );
  }, 120_000);
});
