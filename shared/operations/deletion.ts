import {
  continueDeletion,
  DeletionConflict,
  type DeletionDeps,
  type DeletionJob,
} from '#shared/privacy/deletion';
import type { DeletionQueue } from '#shared/privacy/worker';
import { deleteUser } from '#shared/privacy/worker';

/**
 * `ops delete-user <reference_id>`: the app user's deletion, the same code as `DELETE /me`, run to the
 * end here: it waits out the grace before the last sweep instead of leaving that to the worker. When a
 * queue is wired (deployed stacks) the worker is told as well, so the deletion still finishes if this
 * run is interrupted; whichever of the two moves the job first wins, and the other reads where it stands.
 */
export type DeletionProgress = (job: DeletionJob, waitingMs: number) => void;

export interface RunToEndOptions {
  onProgress?: DeletionProgress;
  /** Aborting stops between steps and answers the job as it stands (still running). */
  signal?: AbortSignal;
  sleep?: (ms: number) => Promise<void>;
  /** The budget of one step (each continues where the previous stopped). */
  stepMs?: number;
}

const STEP_MS = 60_000;
const TICK_MS = 250;

export async function deleteUserToEnd(
  deps: DeletionDeps & { queue?: DeletionQueue | undefined },
  reference_id: string,
  options: RunToEndOptions = {},
): Promise<DeletionJob> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const stepMs = options.stepMs ?? STEP_MS;
  let job = await deleteUser(deps, reference_id, deps.now() + stepMs);
  options.onProgress?.(job, 0);
  while (job.status === 'running' && !options.signal?.aborted) {
    const waitingMs = job.sweep_after ? Date.parse(job.sweep_after) - deps.now() : 0;
    if (job.phase === 'sweep' && waitingMs > 0) {
      options.onProgress?.(job, waitingMs);
      await sleep(Math.min(waitingMs, TICK_MS));
      continue;
    }
    try {
      job = await continueDeletion(deps, job, deps.now() + stepMs);
    } catch (error) {
      if (!(error instanceof DeletionConflict)) throw error;
      // The worker (or another run) moved it meanwhile: carry on from where it stands.
      const current = await deps.jobs.job(reference_id);
      if (current === undefined) throw error;
      job = current;
    }
    options.onProgress?.(job, 0);
  }
  return job;
}
