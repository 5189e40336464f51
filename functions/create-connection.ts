import { connectProvider } from '#shared/connections/connect';
import { createConnectionBody } from '#shared/http/bodies';
import { route } from '#shared/http/route';
import { connectDeps } from '#shared/runtime/connect';

const deps = connectDeps();

export const handler = route({ body: createConnectionBody }, async ({ caller, body, baseUrl }) => ({
  status: 201,
  body: await connectProvider(deps, caller.referenceId, deps.config.publicApiUrl ?? baseUrl, body),
}));
