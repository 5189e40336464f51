import { listConnections, listConnectionsQuery } from '#shared/connections/queries';
import { route } from '#shared/http/route';
import { connectionStore } from '#shared/runtime';

const store = connectionStore();

export const handler = route({ query: listConnectionsQuery }, async ({ caller, query }) => ({
  status: 200,
  body: await listConnections(store, caller.referenceId, query),
}));
