import type { DeletionQueue } from '#shared/aws/deletion-queue';
import type { Env } from '#shared/config';
import { logger } from '#shared/log';
import { continueQueued } from '#shared/privacy/worker';
import { deletionDeps } from '#shared/runtime/deletion';

/**
 * Local mode's deletion queue: where AWS sends a step to SQS (delayed) for the deletion worker, this
 * runs the same worker code on a timer in-process.
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
        const step = continueQueued(deps, job, Date.now() + 60_000).catch((error: unknown) => {
          logger.warn('deletion', {
            outcome: 'retry',
            error: error instanceof Error ? error.name : 'unknown',
          });
          return queue.enqueue(job, 1);
        });
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
  const deps = { ...deletionDeps(env, { queue }), queue };
  return queue;
}
