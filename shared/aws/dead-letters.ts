import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { BusEvent } from '#shared/events/bus-events';

/**
 * Events the bus refused after retries, kept whole in an SQS queue (14 days) so that
 * `npm run ops -- redrive` can publish them again. The stream consumer's own failures (a batch it could
 * not process at all) land in the same queue as Lambda's failure records.
 */
export class SqsDeadLetters {
  private readonly client: SQSClient;

  constructor(
    private readonly queueUrl: string,
    client?: SQSClient,
  ) {
    this.client = client ?? new SQSClient({ maxAttempts: 3 });
  }

  async send(events: readonly BusEvent[]): Promise<void> {
    for (let start = 0; start < events.length; start += 10) {
      const batch = events.slice(start, start + 10);
      const result = await this.client.send(
        new SendMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: batch.map((event, i) => ({ Id: String(i), MessageBody: JSON.stringify(event) })),
        }),
      );
      if (result.Failed?.length) throw new Error(`SQS refused ${result.Failed.length} dead letter(s)`);
    }
  }
}
