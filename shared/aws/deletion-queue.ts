import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { DeletionQueue } from '#shared/privacy/worker';

/** The deletion queue in AWS: an SQS queue, whose worker continues the deletion. */
export class SqsDeletionQueue implements DeletionQueue {
  private readonly client: SQSClient;

  constructor(
    private readonly queueUrl: string,
    client?: SQSClient,
  ) {
    this.client = client ?? new SQSClient({ maxAttempts: 3 });
  }

  async enqueue(job: { reference_id: string; deletion_id: string }, delaySeconds: number): Promise<void> {
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: JSON.stringify(job),
        // SQS delays up to 15 minutes; the grace before the last sweep is far shorter.
        DelaySeconds: Math.max(0, Math.min(900, Math.ceil(delaySeconds))),
      }),
    );
  }
}
