import { mintSdkToken } from '#shared/connections/connect';
import { emptyBody } from '#shared/http/bodies';
import { route } from '#shared/http/route';
import { terraDeps } from '#shared/runtime/terra';

const deps = terraDeps();

export const handler = route({ body: emptyBody }, async () => ({
  status: 201,
  body: await mintSdkToken(deps),
}));
