import * as z from 'zod/mini';
import type { BackfillSummary } from '#shared/backfill/model';
import type {
  connectProvider,
  ListedConnection,
  listConnections,
  mintSdkToken,
  startWidgetSession,
} from '#shared/connections/flows';
import { CONNECTION_STATUSES } from '#shared/connections/model';
import type { Provider } from '#shared/connections/ports';
import type { deletionView } from '#shared/privacy/deletion';
import type { DeliveryOutcome, WebhookAnswer } from '#shared/webhooks/receive';
import type { errorBody } from './respond.ts';

/**
 * What each route answers, as zod schemas, for the OpenAPI document (`shared/http/openapi.ts`) and the
 * tests that hold real answers against it. Handlers never import this: they return their domain types,
 * and the checks at the end of this file prove those and these schemas the same, so neither can change
 * alone. Objects are strict, so a test parsing a real answer also catches a field the document lacks.
 */
const time = (what: string) => z.string().check(z.describe(`${what}: an ISO 8601 time in UTC.`));

export const widgetSession = z.strictObject({
  session_id: z.string().check(z.describe("Terra's widget session id.")),
  url: z
    .string()
    .check(z.describe("Terra's widget: open it in a new tab or an in-app browser, never an iframe.")),
  expires_in: z.number().check(z.describe('Seconds the URL stays valid.')),
  expires_at: time('When the URL stops working'),
});

export const providerLogin = z.strictObject({
  user_id: z.string().check(z.describe('The Terra user of this login; its connection is `pending` now.')),
  provider: z.string().check(z.describe("Terra's provider id, upper case.")),
  auth_url: z.string().check(z.describe("The provider's login: open it in a new tab, never an iframe.")),
});

const requestStatus = z.enum(['requested', 'receiving', 'complete', 'failed']);

export const backfill = z.strictObject({
  status: requestStatus,
  from: z.string().check(z.describe('First day asked for (an ISO date).')),
  to: z.string().check(z.describe('Last day asked for (an ISO date).')),
  planned: z.array(z.string()).check(z.describe('The data types asked for; `requests` grows to this many.')),
  requests: z.array(
    z.strictObject({
      type: z.nullable(z.string()),
      reference: z.nullable(z.string()).check(z.describe("Terra's request reference.")),
      status: requestStatus,
      expected: z
        .nullable(z.number())
        .check(z.describe('Payloads the request delivers; null until Terra says, for a large one.')),
      received: z.number(),
    }),
  ),
});

export const connection = z.strictObject({
  user_id: z.string().check(z.describe("Terra's user id of this connection.")),
  provider: z.string().check(z.describe("Terra's provider id; `UNKNOWN` until an event names it.")),
  status: z
    .enum(CONNECTION_STATUSES)
    .check(
      z.describe(
        '`replaced`, `disconnected` and `failed` are terminal; `error` and `revoked` need a new login.',
      ),
    ),
  scopes: z.array(z.string()),
  created_at: time('First connection event'),
  updated_at: time('Latest connection event'),
  reason: z.optional(z.string()),
  replaced_by: z.optional(z.string()),
  replaces: z.optional(z.string()),
  last_webhook_update: z.optional(time('Latest data event')),
  backfill: z.optional(backfill.check(z.describe('The history asked for on connect, when it was.'))),
});

export const connectionList = z.strictObject({ connections: z.array(connection) });

export const provider = z.strictObject({
  provider: z.string().check(z.describe("Terra's provider id, e.g. `GARMIN`.")),
  name: z.string(),
  icon: z.nullable(z.string()).check(z.describe("The provider's logo URL.")),
  types: z.array(z.string()).check(z.describe('The data types it provides.')),
  sdk_only: z
    .boolean()
    .check(z.describe("Connected only through Terra's mobile SDK (`POST /sdk-token`), never a web login.")),
});

export const providerList = z.strictObject({ providers: z.array(provider) });

export const sdkToken = z.strictObject({
  token: z.string().check(z.describe("Single use, for the mobile SDK's `initConnection`.")),
  expires_in: z.number().check(z.describe('Seconds the token stays valid.')),
});

export const deletion = z.strictObject({
  deletion_id: z.string(),
  status: z.enum(['running', 'done']),
  started_at: time('Started'),
  finished_at: z.optional(time('Finished')),
  connections: z
    .number()
    .check(z.describe('Terra users deauthenticated at Terra and replaced by tombstones.')),
  deliveries: z.number().check(z.describe('Webhook delivery records deleted.')),
  payloads: z.number().check(z.describe('Archived payloads deleted.')),
});

export const errorResponse = z.strictObject({
  error: z.strictObject({
    code: z.string().check(z.describe('Stable, for code to branch on, e.g. `invalid_body`, `not_found`.')),
    message: z.string().check(z.describe('For the developer: names the field and what to do.')),
  }),
});

/** API Gateway's own answers, before any handler runs (and local mode's, for the same cases). */
export const gatewayError = z.strictObject({
  message: z.string().check(z.describe('e.g. `Unauthorized`, `Not Found`, `Too Many Requests`.')),
});

/** Which webhook outcome answers with which status: Terra retries 5xx, not 4xx. */
export const WEBHOOK_OUTCOMES = {
  200: ['processed', 'duplicate', 'ignored', 'deleted_user', 'parked', 'payload_failed'],
  400: ['malformed'],
  401: ['rejected', 'stale'],
  500: ['error'],
  503: ['in_progress'],
} as const satisfies Record<number, readonly DeliveryOutcome[]>;

export const webhookReceived = z.strictObject({
  received: z.literal(true),
  outcome: z.enum(WEBHOOK_OUTCOMES[200]),
  event_id: z.optional(
    z.string().check(z.describe('The delivery id: `x-terra-trace-id`, else the body hash.')),
  ),
});

export const webhookError = (codes: readonly [DeliveryOutcome, ...DeliveryOutcome[]]) =>
  z.strictObject({ error: z.strictObject({ code: z.enum(codes), message: z.string() }) });

// ---- the domain types and these schemas, proven the same at compile time ----

/** True only when each type is assignable to the other: a field added, dropped or retyped on either side fails. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Holds<T extends true> = T;
type Out<S extends z.ZodMiniType> = z.output<S>;
type Acknowledged = Extract<WebhookAnswer, { received: true }>;
type Refused = Extract<WebhookAnswer, { error: unknown }>;

/** Fails `tsc` when a handler's result and its documented answer part ways. */
export type ResponsesMatchTheDomain = [
  Holds<Same<Out<typeof widgetSession>, Awaited<ReturnType<typeof startWidgetSession>>>>,
  Holds<Same<Out<typeof providerLogin>, Awaited<ReturnType<typeof connectProvider>>>>,
  Holds<Same<Out<typeof connectionList>, Awaited<ReturnType<typeof listConnections>>>>,
  Holds<Same<Out<typeof connection>, ListedConnection>>,
  Holds<Same<Out<typeof backfill>, BackfillSummary>>,
  Holds<Same<Out<typeof providerList>, { providers: Provider[] }>>,
  Holds<Same<Out<typeof sdkToken>, Awaited<ReturnType<typeof mintSdkToken>>>>,
  Holds<Same<Out<typeof deletion>, ReturnType<typeof deletionView>>>,
  Holds<Same<Out<typeof errorResponse>, ReturnType<typeof errorBody>>>,
  // Every outcome of the receiver is documented under a status, and each documented body is one it answers.
  Holds<Same<(typeof WEBHOOK_OUTCOMES)[keyof typeof WEBHOOK_OUTCOMES][number], DeliveryOutcome>>,
  Holds<Out<typeof webhookReceived> extends Acknowledged ? true : false>,
  Holds<Out<ReturnType<typeof webhookError>> extends Refused ? true : false>,
];
