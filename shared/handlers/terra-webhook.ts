import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { Env } from '#shared/config';
import { lowerCaseHeaders, rawBody } from '#shared/http/request';
import { json } from '#shared/http/respond';
import { webhookDeps } from '#shared/runtime/webhook';
import { answerHeaders } from '#shared/webhooks/answer';
import { receiveWebhook } from '#shared/webhooks/receive';

/**
 * `POST /webhooks/terra`. Built at cold start, failing closed: locally, without a signing secret it does not
 * start; deployed, a secret it cannot read answers 500 (Terra retries) and the stack's placeholder secret
 * fails every signature (401), so nothing unsigned is ever applied.
 */
export function terraWebhookHandler(env: Env) {
  const deps = webhookDeps(env);
  return async (event: APIGatewayProxyEventV2) => {
    const result = await receiveWebhook(deps, {
      headers: lowerCaseHeaders(event.headers),
      body: rawBody(event),
    });
    return json(result.status, result.body, answerHeaders(result.outcome));
  };
}
