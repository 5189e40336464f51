import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { Env } from '#shared/config';
import { completeCallback } from '#shared/connections/callbacks';
import { connectDeps } from '#shared/runtime/app-routes';

/** `GET /callbacks/terra/{outcome}`: no JWT (Terra's redirect carries none); always a 302 to a configured target. */
export function terraCallbackHandler(env: Env) {
  const deps = connectDeps(env);
  return async (event: APIGatewayProxyEventV2) => ({
    statusCode: 302,
    headers: {
      location: await completeCallback(
        deps,
        event.pathParameters?.outcome,
        event.queryStringParameters ?? {},
      ),
      'cache-control': 'no-store',
      'referrer-policy': 'no-referrer',
    },
  });
}
