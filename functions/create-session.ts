import { startWidgetSession } from '#shared/connections/connect';
import { createSessionBody } from '#shared/http/bodies';
import { route } from '#shared/http/route';
import { terraDeps } from '#shared/runtime/terra';

const deps = terraDeps();

export const handler = route({ body: createSessionBody }, async ({ caller, body, baseUrl }) => ({
  status: 201,
  body: await startWidgetSession(deps, caller.referenceId, deps.config.publicApiUrl ?? baseUrl, body),
}));
