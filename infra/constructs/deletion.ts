import { Duration, Validations } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { FUNCTIONS } from '#shared/handlers/manifest';
import type { BuildFunction } from '../functions.ts';
import type { Monitoring } from './monitoring.ts';
import type { TerraFunction } from './terra-function.ts';

export interface DeletionProps {
  monitoring: Monitoring;
  build: BuildFunction;
}

/**
 * Deleting a user beyond one request (docs/architecture.md, "Deleting a user"): a queue of next steps
 * (delayed until the grace period is over) and the worker that takes them, with the same grants as
 * `DELETE /me` and no others.
 */
export class Deletion extends Construct {
  readonly queue: Queue;
  readonly worker: TerraFunction;

  constructor(scope: Construct, id: string, props: DeletionProps) {
    super(scope, id);
    const failed = new Queue(this, 'DeletionsDeadLetters', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(failed).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'The deletion queue’s dead-letter queue: steps that failed five times, alarmed on.',
    });
    this.queue = new Queue(this, 'Deletions', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // Lambda's advice for an SQS trigger: at least six times the function's timeout.
      visibilityTimeout: Duration.seconds(FUNCTIONS['deletion-worker'].timeoutSeconds).plus(
        Duration.minutes(25),
      ),
      deadLetterQueue: { queue: failed, maxReceiveCount: 5 },
    });
    this.worker = props.build(this, 'deletion-worker', { DELETION_QUEUE_URL: this.queue.queueUrl });
    this.worker.function.addEventSource(
      new SqsEventSource(this.queue, { batchSize: 1, reportBatchItemFailures: true }),
    );
    this.queue.grantSendMessages(this.worker);
    props.monitoring.watchQueue(
      'deletions-dead-letters',
      failed,
      'Deletion steps that failed five times: a person is not fully deleted yet.',
    );
  }

  /** A function that starts deletions (`DELETE /me`) may queue their next steps. */
  letStart(fn: IFunction): void {
    this.queue.grantSendMessages(fn);
  }
}
