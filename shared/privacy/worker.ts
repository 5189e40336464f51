import type { DeletionQueue } from '#shared/aws/deletion-queue';
import { continueDeletion, type DeletionDeps, type DeletionJob, startDeletion } from './deletion.ts';

/**
 * The two ways a deletion moves on, shared by `DELETE /me`, the queue's worker and the operations CLI:
 * run it until the deadline, and when it is not done, queue the next step for when it can continue.
 */
export async function runDeletion(
  deps: DeletionDeps & { queue?: DeletionQueue | undefined },
  job: DeletionJob,
  deadline: number,
): Promise<DeletionJob> {
  const after = await continueDeletion(deps, job, deadline);
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
