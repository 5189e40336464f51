import { route } from '#shared/http/route';
import { connectDeps } from '#shared/runtime';

const deps = connectDeps();

export const handler = route({}, async () => ({
  status: 200,
  body: { providers: await deps.providers.list() },
}));
