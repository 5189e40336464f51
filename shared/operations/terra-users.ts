import { type ConnectionStatus, TERMINAL_STATUSES } from '#shared/connections/model';
import type { TerraPort } from '#shared/connections/ports';
import type { OnProgress, OperationsReader } from './ports.ts';

/**
 * `ops terra-users`: the Terra users this developer account holds (Terra bills per user, and Terra's
 * development environments cap them) that no active record here explains: no record at all, a
 * tombstone (the person was deleted), or a record in a terminal status (Terra should have dropped the
 * user). With `stale`, also users whose record is active but who sent no data for `staleDays`. Listing
 * only reads; deauthenticating is a separate, deliberate step.
 */
export const STALE_DAYS = 30;

export type UnexplainedReason = 'no_record' | 'deleted' | 'terminal' | 'stale';

export interface UnexplainedUser {
  user_id: string;
  provider: string;
  /** The app user Terra has on file (Terra's `reference_id`). */
  reference_id: string | null;
  reason: UnexplainedReason;
  /** Our record's status, when there is a record. */
  status?: ConnectionStatus;
  /** Our last data from this user (or, with none ever, when the connection was made). */
  last_data?: string | null;
}

export interface TerraUsersReport {
  /** Every Terra user Terra listed. */
  terra_users: number;
  pages: number;
  users: UnexplainedUser[];
}

export interface TerraUsersDeps {
  terra: Pick<TerraPort, 'listSubscriptions' | 'deauthenticateUser'>;
  reader: Pick<OperationsReader, 'connectionStates'>;
  now: () => number;
}

const PER_PAGE = 500;
const MAX_PAGES = 10_000;

export async function unexplainedTerraUsers(
  deps: TerraUsersDeps,
  options: { stale: boolean; staleDays?: number },
  onProgress?: OnProgress,
): Promise<TerraUsersReport> {
  const staleBefore = new Date(deps.now() - (options.staleDays ?? STALE_DAYS) * 86_400_000).toISOString();
  const users: UnexplainedUser[] = [];
  const seen = new Set<string>();
  let terra_users = 0;
  let pages = 0;
  for (let page: number | null = 0; page !== null && pages < MAX_PAGES; ) {
    const answer = await deps.terra.listSubscriptions(page, PER_PAGE);
    pages++;
    const fresh = answer.users.filter((user) => !seen.has(user.user_id));
    for (const user of fresh) seen.add(user.user_id);
    terra_users += fresh.length;
    const states = await deps.reader.connectionStates(fresh.map((user) => user.user_id));
    for (const user of fresh) {
      const stored = states.get(user.user_id) ?? { state: 'missing' };
      const terra = { user_id: user.user_id, provider: user.provider, reference_id: user.reference_id };
      if (stored.state === 'missing') users.push({ ...terra, reason: 'no_record' });
      else if (stored.state === 'deleted') users.push({ ...terra, reason: 'deleted' });
      else {
        const { record } = stored;
        const last_data = record.last_webhook_update ?? record.created_at ?? null;
        if (TERMINAL_STATUSES.has(record.status)) {
          users.push({ ...terra, reason: 'terminal', status: record.status, last_data });
        } else if (
          options.stale &&
          record.status === 'active' &&
          last_data !== null &&
          last_data < staleBefore
        ) {
          users.push({ ...terra, reason: 'stale', status: record.status, last_data });
        }
      }
    }
    onProgress?.(terra_users);
    // A `next` that does not move on would page forever.
    page = answer.next !== null && answer.next > page ? answer.next : null;
  }
  return { terra_users, pages, users };
}

export type DeauthOutcome = 'deauthenticated' | 'not_found' | 'failed';

export interface DeauthResult {
  user_id: string;
  outcome: DeauthOutcome;
  error?: string;
}

/** Deauthenticates each user at Terra (a user Terra no longer knows counts as done). */
export async function deauthenticateUsers(
  deps: Pick<TerraUsersDeps, 'terra'>,
  user_ids: readonly string[],
  onProgress?: OnProgress,
): Promise<DeauthResult[]> {
  const results: DeauthResult[] = [];
  for (const user_id of user_ids) {
    try {
      const known = await deps.terra.deauthenticateUser(user_id);
      results.push({ user_id, outcome: known ? 'deauthenticated' : 'not_found' });
    } catch (error) {
      results.push({ user_id, outcome: 'failed', error: error instanceof Error ? error.message : 'unknown' });
    }
    onProgress?.(results.length, user_ids.length);
  }
  return results;
}
