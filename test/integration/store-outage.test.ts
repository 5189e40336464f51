import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type DynamoLocal, startDynamoLocal } from '#local/dynamodb';
import type { LocalStack } from '#local/stack';
import { createDocumentClient } from '#shared/store/client';
import { checkAgainstReference, drive, generateStream } from '../helpers/delivery-stream.ts';
import { startTestStack } from '../helpers/local-stack.ts';

/**
 * DynamoDB Local stopped (its process group terminated) in the middle of a stream of deliveries, then restarted on the same port and
 * data: deliveries during the outage answer 5xx quickly, Terra-style retries succeed afterwards, and
 * the table ends exactly as the reference model says.
 */
let dynamo: DynamoLocal | undefined;
let stack: LocalStack | undefined;

afterAll(async () => {
  await stack?.stop();
  await dynamo?.stop();
});

describe('a store outage mid-stream', () => {
  it('loses nothing and ends in the reference state', async () => {
    const dbPath = mkdtempSync(join(tmpdir(), 'terra-outage-db-'));
    dynamo = await startDynamoLocal({ dbPath });
    const { port, endpoint } = dynamo;
    stack = await startTestStack({ dynamoEndpoint: endpoint, env: { INBOX_LEASE_SECONDS: '2' } });
    const stream = generateStream({ users: 40, eventsPerUser: 12, duplicateRate: 0.1, seed: 20261122 });

    let outageMs = 0;
    const report = await drive({
      webhookUrl: stack.webhookUrl,
      secret: stack.signingSecret,
      deliveries: stream.deliveries,
      concurrency: 8,
      retryDelayMs: 300,
      at: {
        progress: 0.3,
        run: async () => {
          const started = Date.now();
          // SIGTERM, not SIGKILL: DynamoDB Local is not crash-durable (a SIGKILL can drop writes it had
          // already acknowledged, which real DynamoDB never does), so a hard kill would test the emulator.
          await dynamo?.stop();
          await new Promise((resolve) => setTimeout(resolve, 2_000));
          dynamo = await startDynamoLocal({ port, dbPath });
          outageMs = Date.now() - started;
        },
      },
    });

    expect(outageMs).toBeGreaterThan(2_000);
    expect(report.lost).toBe(0);
    expect(report.failedAttempts).toBeGreaterThan(0);
    // Every failed attempt was answered before Terra would have given up on it: no hanging sockets.
    expect(report.abandoned).toBe(0);

    const doc = createDocumentClient({ dynamoEndpoint: endpoint });
    const check = await checkAgainstReference(
      doc,
      stack.tables.connectionsTable,
      stack.tables.inboxTable,
      stream,
    );
    expect(check.missing).toEqual([]);
    expect(check.wrong).toEqual([]);
    expect(check.inboxNotDone).toBe(0);
    expect(check.inboxItems).toBe(stream.distinct);
  }, 180_000);
});
