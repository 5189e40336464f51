import * as z from 'zod';
import { CONNECTION_STATUSES, type Connection, toConnection } from './model.ts';
import type { ConnectionStore } from './store.ts';

export const listConnectionsQuery = z.strictObject({
  status: z.enum(CONNECTION_STATUSES).optional(),
  refresh: z
    .enum(['true', 'false'], "must be 'true' or 'false'")
    .optional()
    .transform((value) => value === 'true'),
});

/** Every record of the caller, terminal ones included, newest first; `status` filters. */
export async function listConnections(
  store: ConnectionStore,
  reference_id: string,
  query: { status?: z.infer<typeof listConnectionsQuery>['status'] },
): Promise<{ connections: Connection[] }> {
  const records = await store.listByReference(reference_id);
  const connections = records
    .filter((record) => query.status === undefined || record.status === query.status)
    .sort((a, b) => b.updated_at.localeCompare(a.updated_at) || a.user_id.localeCompare(b.user_id))
    .map(toConnection);
  return { connections };
}
