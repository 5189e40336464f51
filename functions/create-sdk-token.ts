import { mintSdkToken } from '#shared/connections/connect';
import { emptyBody } from '#shared/http/bodies';
import { route } from '#shared/http/route';
import { connectDeps } from '#shared/runtime';

const deps = connectDeps();

export const handler = route({ body: emptyBody }, async () => ({
  status: 201,
  body: await mintSdkToken(deps),
}));
