import { type ConnectionStatus, toConnection } from '#shared/connections/model';
import { referencePrefixes, userPrefixes } from '#shared/webhooks/archive';
import { archivedEventIds, type DeliveryRow, type FindDeps, newestFirst, toRow } from './deliveries.ts';
import type { ConnectionState, OnProgress } from './ports.ts';

/**
 * `ops connection <user_id | reference_id>`: the record(s) (by Terra user id, else every Terra user of
 * the app user through the byReference index) and their delivery history, found through the archive
 * layout, most recent first.
 */
export interface ConnectionView {
  user_id: string;
  /** `deleted`: a tombstone stands in its place (the person was deleted); nothing else is kept. */
  state: 'live' | 'deleted';
  reference_id: string | null;
  provider: string | null;
  status: ConnectionStatus | null;
  scopes: string[];
  created_at: string | null;
  updated_at: string | null;
  last_webhook_update: string | null;
  reason?: string;
  replaced_by?: string;
  replaces?: string;
  deleted_at?: string;
}

export interface ConnectionReport {
  by: 'user_id' | 'reference_id';
  connections: ConnectionView[];
  deliveries: DeliveryRow[];
  /** How many deliveries there are in all, before the limit. */
  matched: number;
  truncated: boolean;
}

function viewOf(user_id: string, stored: ConnectionState): ConnectionView | undefined {
  if (stored.state === 'missing') return undefined;
  if (stored.state === 'deleted') {
    return {
      user_id,
      state: 'deleted',
      reference_id: null,
      provider: null,
      status: null,
      scopes: [],
      created_at: null,
      updated_at: null,
      last_webhook_update: null,
      deleted_at: stored.deleted_at,
    };
  }
  const { record } = stored;
  const connection = toConnection(record);
  return {
    user_id,
    state: 'live',
    reference_id: record.reference_id ?? null,
    provider: record.provider ?? null,
    status: record.status,
    scopes: connection.scopes,
    created_at: record.created_at ?? null,
    updated_at: record.updated_at ?? null,
    last_webhook_update: record.last_webhook_update ?? null,
    ...(record.reason === undefined ? {} : { reason: record.reason }),
    ...(record.replaced_by === undefined ? {} : { replaced_by: record.replaced_by }),
    ...(record.replaces === undefined ? {} : { replaces: record.replaces }),
  };
}

export async function findConnection(
  deps: FindDeps,
  id: string,
  options: { limit: number },
  onProgress?: OnProgress,
): Promise<ConnectionReport | undefined> {
  let by: ConnectionReport['by'] = 'user_id';
  let states = await deps.reader.connectionStates([id]);
  let extraPrefixes: string[] = [];
  if (states.get(id)?.state === 'missing') {
    by = 'reference_id';
    states = await deps.reader.connectionStates(await deps.reader.userIdsByReference(id));
    // The index is eventually consistent: a record that changed hands since is not this app user's.
    for (const [user_id, stored] of states) {
      if (stored.state !== 'live' || stored.record.reference_id !== id) states.delete(user_id);
    }
    // Deliveries that name only the app user (a cancelled login) live under its own prefixes.
    extraPrefixes = referencePrefixes(id);
  }
  const connections = [...states]
    .map(([user_id, stored]) => viewOf(user_id, stored))
    .filter((view): view is ConnectionView => view !== undefined)
    .sort(
      (a, b) => (b.updated_at ?? '').localeCompare(a.updated_at ?? '') || a.user_id.localeCompare(b.user_id),
    );
  const prefixes = [...connections.flatMap((view) => userPrefixes(view.user_id)), ...extraPrefixes];
  const ids = await archivedEventIds(deps.archive, prefixes);
  const deliveries = (await deps.reader.deliveries(ids, onProgress)).sort(newestFirst);
  if (connections.length === 0 && deliveries.length === 0) return undefined;
  return {
    by,
    connections,
    deliveries: deliveries.slice(0, options.limit).map(toRow),
    matched: deliveries.length,
    truncated: deliveries.length > options.limit,
  };
}
