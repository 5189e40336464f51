import { join } from 'node:path';
import { forkTs } from '../../support/children.ts';
import { freshTables, type Tables, withDynamo } from '../../support/dynamo.ts';
import { PROJECT_ROOT } from '../../support/paths.ts';
import type { StackWorkerConfig } from './stack-worker.ts';

/** Local mode in a child process, on its own DynamoDB Local and fresh tables, for the duration of `run`. */
export async function withLocalStack<T>(
  secret: string,
  run: (stack: { webhookUrl: string; endpoint: string; tables: Tables }) => Promise<T>,
): Promise<T> {
  return withDynamo(async (dynamo) => {
    const tables = await freshTables(dynamo.endpoint, 'http');
    const worker = forkTs(join(PROJECT_ROOT, 'bench', 'phases', 'local-http', 'stack-worker.ts'), {
      endpoint: dynamo.endpoint,
      secret,
      tables,
    } satisfies StackWorkerConfig);
    try {
      const ready = await worker.next('ready');
      const result = await run({ webhookUrl: String(ready.webhookUrl), endpoint: dynamo.endpoint, tables });
      worker.send('stop');
      await Promise.race([worker.exited, new Promise((done) => setTimeout(done, 10_000))]);
      return result;
    } finally {
      await worker.stop();
    }
  });
}
