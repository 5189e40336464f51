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
 * `npm run test:soak`: 20,000+ deliveries over 500 Terra users through the local HTTP adapter at
 * concurrency 32, shuffled, 10 % duplicated (some side by side), reauth chains, and DynamoDB Local
 * stopped once mid-stream. Afterwards: nothing lost, nothing wrong against the reference model, every
 * inbox item closed.
 */
let dynamo: DynamoLocal | undefined;
let stack: LocalStack | undefined;

afterAll(async () => {
  await stack?.stop();
  await dynamo?.stop();
});

describe('load with a store outage', () => {
  it('delivers 20,000 deliveries over 500 users with 0 lost and 0 wrong', async () => {
    const dbPath = mkdtempSync(join(tmpdir(), 'terra-soak-db-'));
    dynamo = await startDynamoLocal({ dbPath });
    const { port, endpoint } = dynamo;
    stack = await startTestStack({ dynamoEndpoint: endpoint, env: { INBOX_LEASE_SECONDS: '3' } });
    const stream = generateStream({
      users: 500,
      eventsPerUser: 60,
      duplicateRate: 0.1,
      seed: 7,
      reauthRate: 0.01,
    });
    expect(stream.deliveries.length).toBeGreaterThanOrEqual(20_000);

    const started = Date.now();
    const report = await drive({
      webhookUrl: stack.webhookUrl,
      secret: stack.signingSecret,
      deliveries: stream.deliveries,
      concurrency: 32,
      retryDelayMs: 500,
      at: {
        progress: 0.4,
        run: async () => {
          // SIGTERM, not SIGKILL: DynamoDB Local is not crash-durable (a SIGKILL can drop writes it had
          // already acknowledged, which real DynamoDB never does), so a hard kill would test the emulator.
          await dynamo?.stop();
          await new Promise((resolve) => setTimeout(resolve, 3_000));
          dynamo = await startDynamoLocal({ port, dbPath });
        },
      },
    });
    const seconds = (Date.now() - started) / 1000;

    const check = await checkAgainstReference(
      createDocumentClient({ dynamoEndpoint: endpoint }),
      stack.tables.connectionsTable,
      stack.tables.inboxTable,
      stream,
    );
    const figures = {
      deliveries: stream.deliveries.length,
      distinct: stream.distinct,
      duplicates: stream.deliveries.length - stream.distinct,
      users: stream.expected.size,
      attempts: report.attempts,
      failedAttempts: report.failedAttempts,
      abandoned: report.abandoned,
      lost: report.lost,
      missing: check.missing.length,
      wrong: check.wrong.length,
      inboxNotDone: check.inboxNotDone,
      seconds: Math.round(seconds),
      deliveriesPerSecond: Math.round(stream.deliveries.length / seconds),
    };
    process.stdout.write(`soak: ${JSON.stringify(figures)}\n`);
    expect(figures).toMatchObject({ lost: 0, missing: 0, wrong: 0, inboxNotDone: 0, abandoned: 0 });
    expect(report.failedAttempts).toBeGreaterThan(0);
    expect(check.inboxItems).toBe(stream.distinct);
  }, 900_000);
});
