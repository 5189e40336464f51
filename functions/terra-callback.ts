import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { completeCallback } from '#shared/connections/connect';
import { connectDeps } from '#shared/runtime/connect';

const deps = connectDeps();

// No JWT here: Terra's redirect carries none. Every path ends in a 302 to a configured target.
export const handler = async (event: APIGatewayProxyEventV2) => ({
  statusCode: 302,
  headers: {
    location: await completeCallback(deps, event.pathParameters?.outcome, event.queryStringParameters ?? {}),
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
  },
});
