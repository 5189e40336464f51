import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { lowerCaseHeaders, rawBody } from '#shared/http/request';
import { json } from '#shared/http/respond';
import { webhookDeps } from '#shared/runtime/webhook';
import { receiveWebhook } from '#shared/webhooks/receive';

// Built at cold start: without a signing secret the function fails here, closed.
const deps = webhookDeps();

export const handler = async (event: APIGatewayProxyEventV2) => {
  const result = await receiveWebhook(deps, {
    headers: lowerCaseHeaders(event.headers),
    body: rawBody(event),
  });
  return json(result.status, result.body, result.status === 503 ? { 'retry-after': '5' } : {});
};
