import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalStack } from '#local/stack';
import { childMain, reply } from '../../support/children.ts';

/**
 * Child of the HTTP and burst phases (run under tsx; its stdout, where the handlers log, goes
 * nowhere): local mode as `npm start` runs it (startLocalStack: the local HTTP adapter in front of the
 * same handlers), on a free port, against the phase's DynamoDB Local and its own tables. No sandbox:
 * the webhook route never calls Terra. The parent is the HTTP client, in another process, as Terra is.
 */
export interface StackWorkerConfig {
  endpoint: string;
  secret: string;
  tables: { connectionsTable: string; inboxTable: string };
}

async function main(raw: unknown) {
  const config = raw as StackWorkerConfig;
  const dataDir = mkdtempSync(join(tmpdir(), 'terra-bench-stack-'));
  const stack = await startLocalStack({
    port: 0,
    dataDir,
    inMemory: true,
    dynamoEndpoint: config.endpoint,
    tables: config.tables,
    signingSecret: config.secret,
    terra: { apiUrl: 'http://127.0.0.1:9/api/v2', devId: 'bench', apiKey: 'bench' },
  });
  const stopped = new Promise<void>((done) => process.once('message', () => done()));
  await reply({ kind: 'ready', webhookUrl: stack.webhookUrl });
  await stopped;
  await stack.stop();
  rmSync(dataDir, { recursive: true, force: true });
  return { kind: 'stopped' };
}

await childMain(main);
