import { disconnect } from '#shared/connections/connect';
import { userIdPath } from '#shared/http/bodies';
import { route } from '#shared/http/route';
import { connectDeps } from '#shared/runtime/connect';

const deps = connectDeps();

export const handler = route({ path: { user_id: userIdPath } }, async ({ caller, path }) => {
  await disconnect(deps, caller.referenceId, path.user_id);
  return { status: 204 };
});
