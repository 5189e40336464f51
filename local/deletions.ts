import type { SQSEvent } from 'aws-lambda';
import type { Env } from '#shared/config';
import { deletionWorkerHandler } from '#shared/handlers/deletion-worker';
import type { DeletionQueue } from '#shared/privacy/worker';

/** As long as the worker's Lambda timeout (5 min): the deadline the handler works against. */
const WORKER_TIMEOUT_MS = 300_000;

/** One SQS message, as the deletion queue delivers it to the worker. */
function sqsEventOf(job: { reference_id: string; deletion_id: string }): SQSEvent {
  return {
    Records: [
      {
        messageId: `${job.deletion_id}-${Date.now()}`,
        receiptHandle: 'local',
        body: JSON.stringify(job),
        attributes: {
          ApproximateReceiveCount: '1',
          SentTimestamp: String(Date.now()),
          SenderId: 'local',
          ApproximateFirstReceiveTimestamp: String(Date.now()),
        },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:local:000000000000:deletions',
        awsRegion: 'local',
      },
    ],
  };
}

/**
 * Local mode's deletion queue: where AWS sends a step to SQS (delayed) for the deletion worker, this
 * hands the same message to the same worker handler on a timer in-process, and redelivers a message
 * the handler reports failed, as SQS would.
 */
export interface LocalDeletionQueue extends DeletionQueue {
  /** Resolves when no step is queued or running. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

export function localDeletionQueue(env: Env): LocalDeletionQueue {
  const timers = new Set<NodeJS.Timeout>();
  const running = new Set<Promise<unknown>>();
  let stopped = false;
  let waiters: Array<() => void> = [];
  const wake = () => {
    if (timers.size > 0 || running.size > 0) return;
    for (const resolve of waiters.splice(0)) resolve();
  };
  const queue: LocalDeletionQueue = {
    async enqueue(job, delaySeconds) {
      if (stopped) return;
      const timer = setTimeout(() => {
        timers.delete(timer);
        const started = Date.now();
        const step = worker(sqsEventOf(job), {
          getRemainingTimeInMillis: () => WORKER_TIMEOUT_MS - (Date.now() - started),
        }).then(({ batchItemFailures }) =>
          batchItemFailures.length > 0 ? queue.enqueue(job, 1) : undefined,
        );
        running.add(step);
        void step.finally(() => {
          running.delete(step);
          wake();
        });
      }, Math.max(0, delaySeconds) * 1000);
      timers.add(timer);
    },
    idle: () =>
      timers.size === 0 && running.size === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => waiters.push(resolve)),
    async stop() {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await Promise.allSettled([...running]);
      for (const resolve of waiters) resolve();
      waiters = [];
    },
  };
  const worker = deletionWorkerHandler(env, { queue });
  return queue;
}
