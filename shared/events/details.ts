import type * as z from 'zod/mini';
import type {
  archivePointerSchema,
  backfillDetailSchema,
  connectionDetailSchema,
  dataDetailSchema,
  envelopeBaseSchema,
  userDeletedDetailSchema,
} from './schemas.ts';

/**
 * The details of the events the app hears (docs/architecture.md, "Events for the app"), as types with no
 * Node code: the publisher builds them, the consumer helper reads them, and the demo page (browser code)
 * shows them. Each is inferred from its schema in `schemas.ts`, the one definition the JSON Schemas are
 * generated from too; the imports are type-only, so whoever imports this module gets no zod at run time.
 */

/** The source of every event on the bus: what a consumer's EventBridge rule matches. */
export const EVENT_SOURCE = 'terra-connect';

export type ArchivePointer = z.infer<typeof archivePointerSchema>;

/**
 * `terra.data`: one payload. `data` is the payload as it arrived, unchecked: read it through the consumer
 * helper's `payloadOf`, which checks it is a `TerraDataPayload` (or reads it from `archive`).
 */
export type DataDetail = z.infer<typeof dataDetailSchema>;

export type ConnectionDetail = z.infer<typeof connectionDetailSchema>;

export type BackfillDetail = z.infer<typeof backfillDetailSchema>;

export type UserDeletedDetail = z.infer<typeof userDeletedDetailSchema>;

/**
 * The body of a Terra data webhook (activity, sleep, daily, body, …) as Terra sent it, which is what a
 * `terra.data` event carries or points at. Only what every data type shares is typed; the records under
 * `data` follow Terra's data models for `type` (https://docs.tryterra.co/reference/data-models).
 */
export interface TerraDataPayload {
  type: string;
  user: {
    user_id: string;
    provider?: string;
    reference_id?: string | null;
    scopes?: string | null;
    [field: string]: unknown;
  };
  /** For most types an array of Terra's records; shapes per type in Terra's data models. */
  data?: unknown;
  version?: string;
  [field: string]: unknown;
}

/**
 * An event as EventBridge delivers it to a rule's target (Lambda, SQS, an API destination). Its `id` is
 * EventBridge's own, new for every publication: deduplicate on `detail.id` instead.
 */
export type Envelope<Type extends string, Detail> = z.infer<typeof envelopeBaseSchema> & {
  'detail-type': Type;
  detail: Detail;
};

export type DataEnvelope = Envelope<'terra.data', DataDetail>;

/** The events the backend publishes. A newer backend may add types: handle the rest generically. */
export type EventEnvelope =
  | DataEnvelope
  | Envelope<'terra.connection', ConnectionDetail>
  | Envelope<'terra.backfill', BackfillDetail>
  | Envelope<'terra.user_deleted', UserDeletedDetail>;
