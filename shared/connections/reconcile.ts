import { randomUUID } from 'node:crypto';
import type { Log } from '#shared/log';
import type { ConnectionEvent } from './model.ts';
import type { ConnectionRepository, TerraPort } from './ports.ts';
import { confirmedByTerra, goneFromTerra } from './terra-truth.ts';

/**
 * The scheduled reconcile (every 6 hours by default): webhooks can be missed for good (a destination
 * down past Terra's retries), so the table is compared with Terra's own list. Two phases, each
 * checkpointed so a run cut short by its deadline resumes where it stopped:
 * 1. page through Terra `subscriptions`, confirming or creating what Terra knows;
 * 2. sweep our table: a live record Terra did not list is checked once more by id, then `disconnected`.
 * Every change goes through the same state machine as webhooks. One user's failure is counted, logged
 * and skipped; it never stops the run.
 */
export interface ReconcileCheckpoint {
  run_id: string;
  started_at: number;
  phase: 'terra' | 'local';
  next_page?: number | undefined;
  /** Opaque position of the table sweep. */
  scan_key?: string | undefined;
}

export interface CheckpointPort {
  load(): Promise<ReconcileCheckpoint | undefined>;
  save(checkpoint: ReconcileCheckpoint): Promise<void>;
  clear(): Promise<void>;
}

export interface ReconcileDeps {
  terra: Pick<TerraPort, 'listSubscriptions' | 'getUser'>;
  connections: ConnectionRepository;
  checkpoints: CheckpointPort;
  now: () => number;
  log: Log;
}

export interface ReconcileReport {
  run_id: string;
  resumed: boolean;
  finished: boolean;
  pages: number;
  terra_users: number;
  confirmed: number;
  disconnected: number;
  unchanged: number;
  failed: number;
}

export interface ReconcileOptions {
  perPage?: number;
  /** Epoch ms by which the run must have saved its checkpoint and returned (the Lambda deadline). */
  deadline?: number;
  /** Test seam: called after each checkpoint is saved. */
  afterCheckpoint?: (checkpoint: ReconcileCheckpoint) => Promise<void> | void;
}

const SAFETY_MS = 10_000;

export async function reconcile(
  deps: ReconcileDeps,
  options: ReconcileOptions = {},
): Promise<ReconcileReport> {
  const perPage = options.perPage ?? 500;
  const outOfTime = () => options.deadline !== undefined && deps.now() > options.deadline - SAFETY_MS;
  const previous = await deps.checkpoints.load();
  let checkpoint: ReconcileCheckpoint = previous ?? {
    run_id: randomUUID(),
    started_at: deps.now(),
    phase: 'terra',
    next_page: 0,
  };
  const report: ReconcileReport = {
    run_id: checkpoint.run_id,
    resumed: previous !== undefined,
    finished: false,
    pages: 0,
    terra_users: 0,
    confirmed: 0,
    disconnected: 0,
    unchanged: 0,
    failed: 0,
  };
  // Users Terra listed in this process; after a resume the list is partial, so a record missing from
  // it is checked with Terra by id before anything is marked.
  const listed = new Set<string>();
  const save = async (next: ReconcileCheckpoint) => {
    checkpoint = next;
    await deps.checkpoints.save(next);
    await options.afterCheckpoint?.(next);
  };
  const apply = async (user_id: string, build: () => Promise<ConnectionEvent | undefined>) => {
    try {
      const event = await build();
      if (!event) {
        report.unchanged++;
        return;
      }
      await deps.connections.apply([event]);
      if (event.change.kind === 'disconnected') report.disconnected++;
      else report.confirmed++;
    } catch (error) {
      report.failed++;
      deps.log.warn('reconcile skipped a user', {
        user_id,
        error: error instanceof Error ? error.name : 'unknown',
      });
    }
  };
  const event_id = `reconcile:${checkpoint.run_id}`;

  while (checkpoint.phase === 'terra') {
    if (outOfTime()) return report;
    const page = await deps.terra.listSubscriptions(checkpoint.next_page ?? 0, perPage);
    report.pages++;
    report.terra_users += page.users.length;
    const at = deps.now();
    for (const user of page.users) {
      listed.add(user.user_id);
      await apply(user.user_id, async () => {
        return confirmedByTerra(user, await deps.connections.get(user.user_id), event_id, at);
      });
    }
    await save(
      page.next === null
        ? { ...checkpoint, phase: 'local', next_page: undefined }
        : { ...checkpoint, next_page: page.next },
    );
  }

  for (;;) {
    if (outOfTime()) return report;
    const { records, next } = await deps.connections.scanPage(checkpoint.scan_key);
    const at = deps.now();
    for (const record of records) {
      if (listed.has(record.user_id) || goneFromTerra(record, event_id, at) === undefined) continue;
      await apply(record.user_id, async () =>
        (await deps.terra.getUser(record.user_id)) ? undefined : goneFromTerra(record, event_id, at),
      );
    }
    if (next === undefined) break;
    await save({ ...checkpoint, scan_key: next });
  }
  await deps.checkpoints.clear();
  report.finished = true;
  return report;
}
