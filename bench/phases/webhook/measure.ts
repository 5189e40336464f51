import { join } from 'node:path';
import { forkTs } from '../../support/children.ts';
import { withDynamo } from '../../support/dynamo.ts';
import { PROJECT_ROOT } from '../../support/paths.ts';
import type { WebhookConfig, WebhookResult } from './worker.ts';

/**
 * Webhook throughput and DynamoDB units per delivery type (requirement 4), in-process on DynamoDB
 * Local: runs worker.ts in its own process, against its own DynamoDB Local, and hands back its figures.
 */
export const SIGNING_SECRET = 'bench-signing-secret';

export async function measureWebhook(
  options: Omit<WebhookConfig, 'endpoint' | 'secret'>,
): Promise<WebhookResult> {
  return withDynamo(async (dynamo) => {
    const worker = forkTs(join(PROJECT_ROOT, 'bench', 'phases', 'webhook', 'worker.ts'), {
      ...options,
      endpoint: dynamo.endpoint,
      secret: SIGNING_SECRET,
    } satisfies WebhookConfig);
    try {
      const message = await worker.next('result');
      return message.result as WebhookResult;
    } finally {
      await worker.stop();
    }
  });
}
