import {
  continueDeletion,
  DeletionConflict,
  type DeletionDeps,
  type DeletionJob,
  startDeletion,
} from './deletion.ts';

/** Where a deletion that did not finish inside its request is continued (SQS in AWS, timers locally). */
export interface DeletionQueue {
  enqueue(job: { reference_id: string; deletion_id: string }, delaySeconds: number): Promise<void>;
}

/**
 * The two ways a deletion moves on, shared by `DELETE /me`, the queue's worker and the operations CLI:
 * run it until the deadline, and when it is not done, queue the next step for when it can continue.
 */
export async function runDeletion(
  deps: DeletionDeps & { queue?: DeletionQueue | undefined },
  job: DeletionJob,
  deadline: number,
): Promise<DeletionJob> {
  let after: DeletionJob;
  try {
    after = await continueDeletion(deps, job, deadline);
  } catch (error) {
    if (!(error instanceof DeletionConflict)) throw error;
    // Another run (a second `DELETE /me`, the worker) moved the job on meanwhile: answer it as it stands.
    const current = await deps.jobs.job(job.reference_id);
    if (current === undefined) throw error;
    after = current;
  }
  // Queued even when another run holds it: should that run die, the queue carries the job on; a
  // message for a finished or replaced job is dropped by `continueQueued`.
  if (after.status === 'running' && deps.queue) {
    const waitMs = after.sweep_after ? Date.parse(after.sweep_after) - deps.now() : 0;
    await deps.queue.enqueue(
      { reference_id: after.reference_id, deletion_id: after.deletion_id },
      waitMs / 1000,
    );
  }
  return after;
}

/** `DELETE /me` and `ops delete-user`: start (or join) the app user's deletion and work on it. */
export async function deleteUser(
  deps: DeletionDeps & { queue?: DeletionQueue | undefined },
  reference_id: string,
  deadline: number,
): Promise<DeletionJob> {
  return runDeletion(deps, await startDeletion(deps, reference_id), deadline);
}

/** The worker: a queued step of a deletion that may have moved on (or been replaced) since. */
export async function continueQueued(
  deps: DeletionDeps & { queue?: DeletionQueue | undefined },
  message: { reference_id: string; deletion_id: string },
  deadline: number,
): Promise<DeletionJob | undefined> {
  const job = await deps.jobs.job(message.reference_id);
  if (job === undefined || job.deletion_id !== message.deletion_id || job.status === 'done') return job;
  return runDeletion(deps, job, deadline);
}
