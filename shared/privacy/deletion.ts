import { randomUUID } from 'node:crypto';
import type { ConnectionRecord } from '#shared/connections/model';
import type { TerraPort } from '#shared/connections/ports';
import { isTerminal } from '#shared/connections/transitions';
import type { Log } from '#shared/log';
import { type Archive, eventIdOfKey, referencePrefixes, userPrefixes } from '#shared/webhooks/archive';

/**
 * Deleting a person everywhere (docs/architecture.md, "Deleting a user"): for every Terra user of an
 * app user, Terra's deauthenticateUser (a 404 counts as done), then a tombstone in place of the record
 * (its id and a time, nothing else, so Terra's late deauth and retried data are acknowledged and
 * dropped), then the deliveries and the archived payloads. Terra has no bulk delete, so the job works
 * against a deadline and resumes where it stopped. A delivery that read the record just before its
 * tombstone may still write for a few seconds (the webhook's own timeout), so the archive and the
 * deliveries are swept once more after a grace period. The person may still be connecting meanwhile,
 * so the Terra users are then collected again, and any new one goes the same way; only when nothing new
 * turns up is the job done, which publishes `terra.user_deleted`.
 */
export type DeletionPhase = 'collect' | 'deauthorize' | 'tombstone' | 'sweep' | 'done';

export interface DeletionJob {
  deletion_id: string;
  reference_id: string;
  status: 'running' | 'done';
  phase: DeletionPhase;
  /** The Terra users found for the app user, here and at Terra. */
  user_ids: string[];
  deauthorized: string[];
  tombstoned_at?: string;
  /** When the sweep may run for the last time (the grace after the tombstones). */
  sweep_after?: string;
  started_at: string;
  finished_at?: string;
  counts: { connections: number; deliveries: number; payloads: number };
  version: number;
}

export interface DeletionStorePort {
  job(reference_id: string): Promise<DeletionJob | undefined>;
  /** Saves the job if nobody else moved it meanwhile (by version); false when someone did. */
  save(job: DeletionJob): Promise<boolean>;
  /** Replaces the record by a tombstone and deletes the user's other items (backfill). */
  tombstone(user_id: string, at: number): Promise<void>;
  /** Deletes delivery records by id; answers how many there were. */
  deleteDeliveries(event_ids: readonly string[]): Promise<number>;
  /**
   * The Terra users of parked deliveries that name this app user (docs/decisions/0020): not its records'
   * users yet, but the person's data all the same.
   */
  parkedNaming(reference_id: string): Promise<string[]>;
}

export interface DeletionDeps {
  terra: Pick<TerraPort, 'deauthenticateUser' | 'getUsersByReference'>;
  records: { listByReference(reference_id: string): Promise<ConnectionRecord[]> };
  jobs: DeletionStorePort;
  archive: Archive;
  /** How long after the tombstones a late write may still land (the webhook's timeout, and a margin). */
  graceMs: number;
  now: () => number;
  log: Log;
}

/** Starts a deletion, or answers the one already running for this app user. */
export async function startDeletion(deps: DeletionDeps, reference_id: string): Promise<DeletionJob> {
  for (;;) {
    const existing = await deps.jobs.job(reference_id);
    if (existing?.status === 'running') return existing;
    const job: DeletionJob = {
      deletion_id: randomUUID(),
      reference_id,
      status: 'running',
      phase: 'collect',
      user_ids: [],
      deauthorized: [],
      started_at: new Date(deps.now()).toISOString(),
      counts: { connections: 0, deliveries: 0, payloads: 0 },
      // A finished deletion is replaced by the new one (the person asked again).
      version: (existing?.version ?? 0) + 1,
    };
    if (await deps.jobs.save(job)) return job;
  }
}

/**
 * Works on the job until it is done or `deadline` (epoch ms) is near. Answers the job as it stands; a
 * running job is continued by calling this again (after `sweep_after`, when it is waiting for that).
 */
export async function continueDeletion(
  deps: DeletionDeps,
  job: DeletionJob,
  deadline: number,
): Promise<DeletionJob> {
  let current = job;
  const out = () => deps.now() >= deadline;
  const save = async (next: DeletionJob) => {
    const saved = { ...next, version: next.version + 1 };
    if (!(await deps.jobs.save(saved))) throw new DeletionConflict(job.reference_id);
    current = saved;
  };

  if (current.phase === 'collect') {
    const found = await collect(deps, current.reference_id);
    await save({ ...current, phase: 'deauthorize', user_ids: found.user_ids, deauthorized: found.gone });
  }

  while (current.phase === 'deauthorize') {
    const next = current.user_ids.find((user_id) => !current.deauthorized.includes(user_id));
    if (next === undefined) {
      await save({ ...current, phase: 'tombstone' });
      break;
    }
    if (out()) return current;
    await deps.terra.deauthenticateUser(next);
    await save({ ...current, deauthorized: [...current.deauthorized, next] });
  }

  if (current.phase === 'tombstone') {
    for (const user_id of current.user_ids) await deps.jobs.tombstone(user_id, deps.now());
    const now = deps.now();
    await save({
      ...current,
      phase: 'sweep',
      tombstoned_at: new Date(now).toISOString(),
      // With no Terra user nothing can still be landing: no grace to wait out.
      sweep_after: new Date(current.user_ids.length === 0 ? now : now + deps.graceMs).toISOString(),
      counts: { ...current.counts, connections: current.user_ids.length },
    });
  }

  if (current.phase === 'sweep') {
    if (out()) return current;
    const swept = await sweep(deps, current);
    const counts = {
      ...current.counts,
      deliveries: current.counts.deliveries + swept.deliveries,
      payloads: current.counts.payloads + swept.payloads,
    };
    if (deps.now() >= Date.parse(current.sweep_after ?? '')) {
      // A login that finished, or a delivery that named the person, while this ran: another Terra user
      // of theirs. It goes the same way (deauthorized, tombstoned, swept) before the job may say done.
      const found = await collect(deps, current.reference_id);
      const added = found.user_ids.filter((user_id) => !current.user_ids.includes(user_id));
      if (added.length > 0) {
        await save({
          ...current,
          phase: 'deauthorize',
          user_ids: [...current.user_ids, ...added].sort(),
          deauthorized: [...current.deauthorized, ...found.gone.filter((user_id) => added.includes(user_id))],
          counts,
        });
        return continueDeletion(deps, current, deadline);
      }
      await save({
        ...current,
        phase: 'done',
        status: 'done',
        counts,
        finished_at: new Date(deps.now()).toISOString(),
      });
      deps.log.info('deletion', { outcome: 'done', deletion_id: current.deletion_id, ...counts });
      return current;
    }
    await save({ ...current, counts });
    // Not yet past the grace: the caller comes back after `sweep_after` for the last sweep.
  }
  return current;
}

/**
 * The app user's Terra users: its records (its partition, read strongly consistently), Terra's list, and
 * the Terra users of parked deliveries that name it; `gone`: those Terra no longer holds.
 */
async function collect(
  deps: DeletionDeps,
  reference_id: string,
): Promise<{ user_ids: string[]; gone: string[] }> {
  const [ours, terras, parked] = await Promise.all([
    deps.records.listByReference(reference_id),
    deps.terra.getUsersByReference(reference_id),
    deps.jobs.parkedNaming(reference_id),
  ]);
  const terminal = ours.filter((record) => isTerminal(record.status)).map((record) => record.user_id);
  const user_ids = [
    ...new Set([...ours.map((record) => record.user_id), ...terras.map((user) => user.user_id), ...parked]),
  ].sort();
  // Terra already deleted replaced, failed and disconnected users (and does not list them).
  const known = new Set(terras.map((user) => user.user_id));
  return { user_ids, gone: terminal.filter((user_id) => !known.has(user_id)) };
}

/** Deletes every archived payload and delivery record of the app user's Terra users. */
async function sweep(
  deps: DeletionDeps,
  job: DeletionJob,
): Promise<{ deliveries: number; payloads: number }> {
  const prefixes = [...job.user_ids.flatMap(userPrefixes), ...referencePrefixes(job.reference_id)];
  const keys = (await Promise.all(prefixes.map((prefix) => deps.archive.list(prefix)))).flat();
  const event_ids = [...new Set(keys.map(eventIdOfKey).filter((id): id is string => id !== undefined))];
  // Records first: a record whose payload is gone would point at nothing; the reverse is only garbage.
  const deliveries = await deps.jobs.deleteDeliveries(event_ids);
  await deps.archive.delete(keys);
  return { deliveries, payloads: keys.length };
}

export class DeletionConflict extends Error {
  override name = 'DeletionConflict';
  constructor(reference_id: string) {
    super(`another worker moved the deletion of ${reference_id} meanwhile`);
  }
}

/** What `GET /me/deletion` and `DELETE /me` answer about a deletion: no Terra ids, no payloads. */
export function deletionView(job: DeletionJob) {
  return {
    deletion_id: job.deletion_id,
    status: job.status,
    started_at: job.started_at,
    ...(job.finished_at ? { finished_at: job.finished_at } : {}),
    connections: job.user_ids.length,
    deliveries: job.counts.deliveries,
    payloads: job.counts.payloads,
  };
}
