import { route } from '#shared/http/route';
import { terraDeps } from '#shared/runtime/terra';

const deps = terraDeps();

export const handler = route({}, async () => ({
  status: 200,
  body: { providers: await deps.providers.list() },
}));
