import * as z from 'zod/mini';
import { CONNECTION_STATUSES } from '#shared/connections/model';
import { TERRA_DATA_TYPES } from '#shared/terra/data-types';
import { EVENT_SOURCE } from './details.ts';

/**
 * The contract of every event on the bus, once: the detail types in `details.ts` are inferred from these
 * schemas, and the JSON Schemas in `schemas/events/` (`npm run schemas`) and in the stack's schema
 * registry are generated from them. Details are closed: the publisher (`publisher.ts`, `outbox.ts`) sets
 * exactly these fields, so an unknown one is a bug; the envelope is EventBridge's and stays open (a
 * replayed event carries `replay-name`).
 *
 * No Lambda imports this at run time (the publisher takes its types only), so zod's schemas and JSON
 * Schema generation stay out of the bundles; `terra-connect/events` exports it to consumers.
 */

const dateTime = (description: string) => z.iso.datetime().check(z.describe(description));
const count = () => z.int().check(z.minimum(0));
const referenceId = z
  .nullable(z.string())
  .check(z.describe("The app user (Terra's reference_id); null when nothing has named one yet."));
const connectionStatus = z.enum(CONNECTION_STATUSES);

export const archivePointerSchema = z.strictObject({
  bucket: z.string().check(z.describe('The S3 bucket (locally: the archive directory).')),
  key: z.string(),
});

export const dataDetailSchema = z
  .strictObject({
    id: z.string().check(z.describe('Stable for the same Terra user and signed body: deduplicate on it.')),
    event_id: z.string().check(z.describe("The delivery's id (x-terra-trace-id, or the body's hash).")),
    type: z.enum(TERRA_DATA_TYPES).check(z.describe("Terra's data type.")),
    reference_id: referenceId,
    user_id: z.string(),
    provider: z.nullable(z.string()),
    received_at: dateTime('When the webhook received the delivery.'),
    archive: archivePointerSchema.check(
      z.describe(
        'The payload as Terra sent it (for an s3_payload, the downloaded payload): the claim check.',
      ),
    ),
    bytes: count().check(z.describe('The size of the archived payload.')),
    terra_reference: z.optional(
      z.string().check(z.describe("Which data request the payload answers (Terra's terra-reference).")),
    ),
    backfill: z.boolean().check(z.describe("True when the payload answers this backend's history request.")),
    data: z.optional(
      z
        .unknown()
        .check(
          z.describe(
            "The payload itself, when the whole event fits EventBridge's 256 KB; as it arrived, unchecked.",
          ),
        ),
    ),
  })
  .check(z.describe('terra.data: one data payload Terra delivered for a Terra user.'));

export const connectionDetailSchema = z
  .strictObject({
    id: z.string().check(z.describe('Stable for the same change: deduplicate on it.')),
    user_id: z.string(),
    reference_id: referenceId,
    provider: z.nullable(z.string()),
    status: connectionStatus,
    previous_status: z.nullable(connectionStatus),
    reason: z.optional(z.string()),
    replaced_by: z.optional(z.string()),
    replaces: z.optional(z.string()),
    at: dateTime('When the change happened (the ordering time of the event that made it); the newest wins.'),
  })
  .check(z.describe("terra.connection: a connection's status changed."));

export const backfillDetailSchema = z
  .strictObject({
    id: z.string().check(z.describe('Stable for the same request and outcome: deduplicate on it.')),
    user_id: z.string(),
    reference_id: referenceId,
    reference: z.string().check(z.describe("Terra's request reference.")),
    type: z
      .enum([...TERRA_DATA_TYPES, 'unknown'])
      .check(z.describe('The data type asked for; unknown when no payload or request named it.')),
    status: z.enum(['complete', 'failed']),
    expected: z
      .nullable(count())
      .check(z.describe('How many payloads the request delivers; null until known.')),
    received: count().check(z.describe('How many payloads arrived.')),
    from: z.nullable(z.iso.date()).check(z.describe('The first day asked for; null when not asked here.')),
    to: z.nullable(z.iso.date()).check(z.describe('The last day asked for; null when not asked here.')),
    reason: z.optional(z.string()),
  })
  .check(z.describe('terra.backfill: a tracked historical data request finished.'));

export const userDeletedDetailSchema = z
  .strictObject({
    id: z.string().check(z.describe('Stable for the same deletion: deduplicate on it.')),
    reference_id: z.string(),
    deletion_id: z.string(),
    user_ids: z.array(z.string()).check(z.describe("The app user's Terra users, deleted with it.")),
    deleted_at: dateTime('When the deletion finished.'),
  })
  .check(z.describe('terra.user_deleted: a deletion finished; delete what your app holds for these ids.'));

/** Each detail-type on the bus and the schema of its detail. A newer backend may add types. */
export const DETAIL_SCHEMAS = {
  'terra.connection': connectionDetailSchema,
  'terra.data': dataDetailSchema,
  'terra.backfill': backfillDetailSchema,
  'terra.user_deleted': userDeletedDetailSchema,
} as const;

export type EventType = keyof typeof DETAIL_SCHEMAS;

export const EVENT_TYPES = Object.keys(DETAIL_SCHEMAS) as EventType[];

/** What EventBridge puts around every detail; local mode's feed and EVENT_TARGET_URL use the same. */
export const envelopeBaseSchema = z.object({
  version: z.literal('0'),
  id: z
    .string()
    .check(z.describe("EventBridge's own id: new for every publication; deduplicate on detail.id.")),
  source: z.literal(EVENT_SOURCE),
  account: z.string(),
  time: z.iso.datetime(),
  region: z.string(),
  resources: z.array(z.string()),
});

/** The whole event of one detail-type, as a rule's target (Lambda, SQS, an API destination) receives it. */
export function envelopeSchema<Type extends EventType>(type: Type) {
  return z.extend(envelopeBaseSchema, {
    'detail-type': z.literal(type),
    detail: DETAIL_SCHEMAS[type],
  });
}

/**
 * The JSON Schema of one detail-type's whole event, in draft 4: the draft EventBridge's schema registry
 * takes (`JSONSchemaDraft4`), so a literal is a one-value `enum` rather than `const`. Generated for what
 * a validator accepts (`io: 'input'`): the envelope open, the details closed.
 */
export function eventJsonSchema(type: EventType): Record<string, unknown> {
  const detail = z.globalRegistry.get(DETAIL_SCHEMAS[type])?.description ?? type;
  const schema = envelopeSchema(type).check(
    z.meta({ title: type, description: `As EventBridge delivers it to a rule's target. ${detail}` }),
  );
  return z.toJSONSchema(schema, { target: 'draft-04', io: 'input' }) as Record<string, unknown>;
}
