import * as z from 'zod/mini';
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiResponseObject } from 'zod-openapi';
import type { RouteKey } from '#shared/handlers/manifest';
import { webhookEnvelope } from '#shared/terra/events';
import {
  createConnectionBody,
  createSessionBody,
  emptyBody,
  listConnectionsQuery,
  userIdPath,
} from './bodies.ts';
import * as answers from './responses.ts';
import { ROUTES, type RouteSpec } from './routes.ts';

/**
 * The HTTP API as an OpenAPI 3.1 document, generated from the schemas the routes validate with
 * (`bodies.ts`) and the schemas of what they answer (`responses.ts`); `npm run openapi` writes it to
 * `openapi.json`. Only that script and the tests import this module: zod-openapi never reaches a function.
 */
export interface Answer {
  description: string;
  /** The JSON body; absent when the answer has none. */
  body?: z.ZodMiniType;
  headers?: z.ZodMiniObject;
}

export interface Operation {
  summary: string;
  description?: string;
  body?: { schema: z.ZodMiniType; description: string; required: boolean };
  query?: z.ZodMiniType<unknown, Record<string, unknown>>;
  path?: z.ZodMiniObject;
  headers?: z.ZodMiniObject;
  answers: Record<number, Answer>;
}

/** The route's key in `OPERATIONS`, as API Gateway names a route. */
export const routeKey = (route: Pick<RouteSpec, 'method' | 'path'>) => `${route.method} ${route.path}`;

const either = z.union([answers.errorResponse, answers.gatewayError]);
const header = (description: string) => z.string().check(z.describe(description));

/** What every app route may answer besides its own results (`route.ts`, `respond.ts`, API Gateway). */
const APP_ROUTE: Record<number, Answer> = {
  400: {
    description:
      'A field is wrong: `invalid_body`, `invalid_json`, `invalid_query`, `invalid_path` or the route’s own code; the message names the field and the problem.',
    body: answers.errorResponse,
  },
  401: {
    description:
      'Sign in again. API Gateway’s JWT authorizer refused the token (`{"message": "Unauthorized"}`, the reason in `www-authenticate`), or the token has no usable identity claim (`unauthorized`).',
    body: either,
  },
  429: { description: 'The route’s throttle pushed back (API Gateway).', body: answers.gatewayError },
  503: {
    description:
      'Local mode only: the functions are still loading (`{"message": "Service Unavailable: starting"}`); retry after `retry-after` seconds.',
    body: answers.gatewayError,
    headers: z.object({ 'retry-after': header('Seconds to wait.') }),
  },
  500: {
    description:
      'Our own failure, never with a stack trace: `internal_error`, or API Gateway’s `Internal Server Error` when the function failed outright.',
    body: either,
  },
};

/** Routes that read a JSON body (`route.ts` bodyOf). */
const WITH_BODY: Record<number, Answer> = {
  413: {
    description: 'The body is over 64 KB (`payload_too_large`), or over API Gateway’s own limit.',
    body: either,
  },
  415: { description: 'The body is not sent as `application/json`.', body: answers.errorResponse },
};

/** Routes that call Terra. */
const CALLS_TERRA: Record<number, Answer> = {
  502: {
    description:
      'Terra answered with an error (`upstream_failed` or a more precise code); its status and detail are in the message.',
    body: answers.errorResponse,
  },
  504: { description: 'Terra did not answer in time (`upstream_timeout`).', body: answers.errorResponse },
};

const json = (body: z.ZodMiniType, description: string) => ({ schema: body, description, required: true });

const webhookFailure = (description: string, codes: Parameters<typeof answers.webhookError>[0]) => ({
  description,
  body: answers.webhookError(codes),
});

// Keyed by every route of the manifest: a route without its operation, or an operation without its
// route, does not compile.
export const OPERATIONS: Record<RouteKey, Operation> = {
  'POST /webhooks/terra': {
    summary: 'Terra’s signed webhook deliveries',
    description:
      'The signature over the exact bytes is checked before anything is parsed: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`, within ±300 s, every `v1` tried against the current and the previous secret. A validly signed delivery is archived before it is answered and deduplicated on `x-terra-trace-id` (else the body’s hash).',
    headers: z.object({
      'terra-signature': header(
        'Terra’s signature; the legacy spelling `x-terra-signature` is read as well.',
      ),
      'x-terra-trace-id': z.optional(header('The delivery’s id, the same on every retry.')),
      'x-terra-ordering-timestamp': z.optional(
        header('When Terra saw the event (epoch s, ms, µs or ns, or ISO 8601): orders connection events.'),
      ),
      'terra-reference': z.optional(header('The data request a payload answers (every chunk shares it).')),
    }),
    body: json(
      webhookEnvelope,
      'Terra’s webhook payload (its `type` names the event). Any valid JSON is acknowledged; what is not understood is recorded as ignored.',
    ),
    answers: {
      200: {
        description: 'Applied, deduplicated, tracked or safely ignored: Terra stops retrying.',
        body: answers.webhookReceived,
      },
      400: webhookFailure(
        'Malformed JSON under a valid signature (archived, recorded failed).',
        answers.WEBHOOK_OUTCOMES[400],
      ),
      401: webhookFailure(
        'No valid signature: nothing written. `stale`: validly signed outside the window, kept in quarantine for a deliberate replay.',
        answers.WEBHOOK_OUTCOMES[401],
      ),
      413: {
        description:
          'The body is over API Gateway’s payload limit (10 MB; local mode applies the same): nothing written.',
        body: answers.gatewayError,
      },
      429: {
        description: 'The webhook route’s throttle pushed back (API Gateway); Terra retries.',
        body: answers.gatewayError,
      },
      500: webhookFailure('Our own failure; Terra retries.', answers.WEBHOOK_OUTCOMES[500]),
      503: {
        description:
          'Another copy of this delivery is in flight; Terra retries. In local mode also while the functions are still loading (`{"message": "Service Unavailable: starting"}`).',
        body: z.union([answers.webhookError(answers.WEBHOOK_OUTCOMES[503]), answers.gatewayError]),
        headers: z.object({ 'retry-after': header('Seconds to wait.') }),
      },
    },
  },
  'POST /sessions': {
    summary: 'A Terra widget session for the caller',
    body: json(
      createSessionBody,
      '`redirect` names a configured target (never a URL); an unknown name falls back to the default.',
    ),
    answers: {
      201: { description: 'Open `url` in a new tab or an in-app browser.', body: answers.widgetSession },
      ...APP_ROUTE,
      ...WITH_BODY,
      ...CALLS_TERRA,
    },
  },
  'POST /connections': {
    summary: 'A login at one provider, for your own provider buttons',
    description: 'Terra `authenticateUser`; the connection is recorded `pending` at once.',
    body: json(
      createConnectionBody,
      'The provider, and optionally the widget language and a redirect target.',
    ),
    answers: {
      201: { description: 'Open `auth_url` in a new tab.', body: answers.providerLogin },
      ...APP_ROUTE,
      400: {
        description: `${APP_ROUTE[400]?.description} \`unknown_provider\`: not enabled for this Terra account; \`sdk_only_provider\`: use \`POST /sdk-token\`.`,
        body: answers.errorResponse,
      },
      ...WITH_BODY,
      ...CALLS_TERRA,
    },
  },
  'GET /connections': {
    summary: 'The caller’s connections',
    description:
      'Terminal ones included, newest first, each with its history request (`backfill`) when it has one.',
    query: listConnectionsQuery,
    answers: {
      200: { description: 'The connections.', body: answers.connectionList },
      ...APP_ROUTE,
      ...CALLS_TERRA,
    },
  },
  'DELETE /connections/{user_id}': {
    summary: 'Disconnects one of the caller’s connections, at Terra and here',
    path: z.object({ user_id: userIdPath }),
    answers: {
      204: { description: 'Disconnected: the connection is `disconnected` now.' },
      ...APP_ROUTE,
      404: {
        description: 'No such connection of the caller (Terra is not called).',
        body: answers.errorResponse,
      },
      ...CALLS_TERRA,
    },
  },
  'GET /providers': {
    summary: 'Terra’s enabled integrations (cached)',
    answers: {
      200: { description: 'What can be connected.', body: answers.providerList },
      ...APP_ROUTE,
      ...CALLS_TERRA,
    },
  },
  'POST /sdk-token': {
    summary: 'A token for Terra’s mobile SDK, claimed for the caller',
    description:
      'An SDK-only connection naming the caller is accepted within 15 minutes after the token expires; later ones are parked until the caller mints again and lists with `refresh=true`.',
    body: { schema: emptyBody, description: 'Nothing, or `{}`.', required: false },
    answers: {
      201: { description: 'Hand the token to `initConnection`.', body: answers.sdkToken },
      ...APP_ROUTE,
      ...WITH_BODY,
      ...CALLS_TERRA,
    },
  },
  'GET /callbacks/terra/{outcome}': {
    summary: 'Terra’s browser redirect after a login',
    description:
      'Anyone can forge it, so its parameters are hints: only what Terra confirms when asked is recorded, never a terminal state.',
    path: z.object({ outcome: z.enum(['success', 'failure']) }),
    query: z.object({
      redirect: z.optional(
        header('The configured target, as `POST /sessions` or `POST /connections` named it.'),
      ),
      user_id: z.optional(header('Terra’s user id, appended by Terra.')),
      resource: z.optional(header('The provider, appended by Terra.')),
      reference_id: z.optional(header('Appended by Terra; never trusted.')),
    }),
    answers: {
      302: {
        description:
          'Always, also on our own failure: to the target’s success or failure URL with `status`, `provider` and `user_id`.',
        headers: z.object({
          location: header('The configured target’s URL.'),
          'cache-control': header('`no-store`.'),
          'referrer-policy': header('`no-referrer`.'),
        }),
      },
    },
  },
  'DELETE /me': {
    summary: 'Deletes the caller everywhere',
    description:
      'Each connection is deauthenticated at Terra; records, deliveries and archived payloads are deleted; `terra.user_deleted` is published. Concurrent calls join the same deletion.',
    body: { schema: emptyBody, description: 'Nothing, or `{}`.', required: false },
    answers: {
      202: {
        description: 'Still running: follow `GET /me/deletion`.',
        body: answers.deletion,
        headers: z.object({
          'retry-after': header('Seconds until it is expected to be done.'),
          location: header('`/me/deletion`.'),
        }),
      },
      204: { description: 'Finished inside the request.' },
      ...APP_ROUTE,
      ...WITH_BODY,
      ...CALLS_TERRA,
    },
  },
  'GET /me/deletion': {
    summary: 'Where the caller’s latest deletion stands',
    answers: {
      200: { description: 'The deletion, its counts growing while it runs.', body: answers.deletion },
      ...APP_ROUTE,
      404: { description: 'The caller never started one.', body: answers.errorResponse },
    },
  },
};

const camel = (entry: string) => entry.replace(/-(\w)/g, (_, letter: string) => letter.toUpperCase());

function response(answer: Answer): ZodOpenApiResponseObject {
  return {
    description: answer.description,
    ...(answer.headers ? { headers: answer.headers } : {}),
    ...(answer.body ? { content: { 'application/json': { schema: answer.body } } } : {}),
  };
}

function operation(route: RouteSpec, spec: Operation): ZodOpenApiOperationObject {
  const params = {
    ...(spec.path ? { path: spec.path } : {}),
    ...(spec.query ? { query: spec.query } : {}),
    ...(spec.headers ? { header: spec.headers } : {}),
  };
  return {
    operationId: camel(route.entry),
    tags: [route.auth === 'jwt' ? 'app' : 'terra'],
    summary: spec.summary,
    ...(spec.description ? { description: spec.description } : {}),
    security: route.auth === 'jwt' ? [{ bearerAuth: [] }] : [],
    ...(Object.keys(params).length ? { requestParams: params } : {}),
    ...(spec.body
      ? {
          requestBody: {
            description: spec.body.description,
            required: spec.body.required,
            content: { 'application/json': { schema: spec.body.schema } },
          },
        }
      : {}),
    responses: Object.fromEntries(
      Object.entries(spec.answers)
        .sort(([a], [b]) => Number(a) - Number(b))
        .map(([status, answer]) => [status, response(answer)]),
    ),
  };
}

/** The document for these routes; every route must have its operation, and every operation its route. */
export function openApiDocument(
  version: string,
  routes: readonly RouteSpec[] = ROUTES,
): ReturnType<typeof createDocument> {
  const keys = new Set(routes.map(routeKey));
  const stray = Object.keys(OPERATIONS).filter((key) => !keys.has(key));
  if (stray.length) throw new Error(`OPERATIONS describes routes that ROUTES lacks: ${stray.join(', ')}`);
  const paths: Record<string, Record<string, ZodOpenApiOperationObject>> = {};
  for (const route of routes) {
    const spec = OPERATIONS[routeKey(route) as RouteKey] as Operation | undefined;
    if (!spec) throw new Error(`No OpenAPI operation for ${routeKey(route)}: add it to OPERATIONS.`);
    paths[route.path] = { ...paths[route.path], [route.method.toLowerCase()]: operation(route, spec) };
  }
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'terra-connect',
      version,
      description:
        'Connects your app’s users to their wearables through Terra. App routes take the signed-in user’s JWT as a Bearer token; its identity claim (default `sub`) is Terra’s `reference_id`, never read from a body or query. Errors are `{"error": {"code", "message"}}`; what API Gateway answers before a function runs is `{"message"}`. Generated from the code by `npm run openapi`.',
    },
    tags: [
      { name: 'app', description: 'Called by your frontend with the user’s JWT.' },
      { name: 'terra', description: 'Called by Terra, or by the browser on Terra’s behalf.' },
    ],
    paths,
    components: {
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'Your identity provider’s token, checked by API Gateway’s JWT authorizer.',
        },
      },
      schemas: {
        SessionRequest: createSessionBody,
        ConnectRequest: createConnectionBody,
        WidgetSession: answers.widgetSession,
        ProviderLogin: answers.providerLogin,
        ConnectionList: answers.connectionList,
        Connection: answers.connection,
        Backfill: answers.backfill,
        ProviderList: answers.providerList,
        Provider: answers.provider,
        SdkToken: answers.sdkToken,
        Deletion: answers.deletion,
        ErrorBody: answers.errorResponse,
        GatewayError: answers.gatewayError,
        WebhookPayload: webhookEnvelope,
        WebhookReceived: answers.webhookReceived,
      },
    },
  });
}
