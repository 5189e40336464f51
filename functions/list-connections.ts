import { listWithRefresh } from '#shared/connections/connect';
import { listConnectionsQuery } from '#shared/connections/queries';
import { route } from '#shared/http/route';
import { connectDeps } from '#shared/runtime/connect';

const deps = connectDeps();

export const handler = route({ query: listConnectionsQuery }, async ({ caller, query }) => ({
  status: 200,
  body: await listWithRefresh(deps, caller.referenceId, query),
}));
