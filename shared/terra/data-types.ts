/**
 * Terra's data types, named once: the webhook parser, the events' contracts, the backfill's setting, the
 * sandbox and the tests all read them here. From Terra's v2-bundled.yaml: the data endpoints under
 * `paths`, and the `WebhookEventType` union for what arrives by webhook. No imports: config (in every
 * function) reads it, and the event contracts name the types without the webhook's parser.
 */

/** The types with a data endpoint (`GET /<type>`): what a backfill may ask for, what the sandbox serves. */
export const DATA_ENDPOINT_TYPES = [
  'activity',
  'athlete',
  'body',
  'daily',
  'menstruation',
  'nutrition',
  'sleep',
] as const;
export type DataEndpointType = (typeof DATA_ENDPOINT_TYPES)[number];

export const isDataEndpointType = (type: string): type is DataEndpointType =>
  (DATA_ENDPOINT_TYPES as readonly string[]).includes(type);

/** The endpoint types that answer records over a date range (all but the athlete's profile). */
export type RangeDataType = Exclude<DataEndpointType, 'athlete'>;
// Marked pure, here and below: esbuild keeps a call it is not told is pure, so every function would carry
// the derived lists (config, in every function, imports this module).
export const RANGE_DATA_TYPES: readonly RangeDataType[] = /* @__PURE__ */ DATA_ENDPOINT_TYPES.filter(
  (type): type is RangeDataType => type !== 'athlete',
);

/** Every user-scoped data event: the endpoint types, and those Terra only ever sends by webhook. */
export const USER_DATA_EVENT_TYPES = /* @__PURE__ */ (() =>
  [...DATA_ENDPOINT_TYPES, 'health_observation', 'hormone', 'planned_workout'] as const)();
export type UserDataEventType = (typeof USER_DATA_EVENT_TYPES)[number];

/** Data events about a lab report rather than a user: they carry no `user`. */
export const REPORT_DATA_EVENT_TYPES = ['lab_report.completed', 'lab_report.failed'] as const;

/**
 * Every data event in Terra's `WebhookEventType` union: what the webhook accepts as data and what a
 * `terra.data` event's `type` can be. Sorted, so the generated JSON Schemas list them in a stable order.
 */
export const TERRA_DATA_TYPES: readonly TerraDataType[] = /* @__PURE__ */ [
  ...USER_DATA_EVENT_TYPES,
  ...REPORT_DATA_EVENT_TYPES,
].sort();
export type TerraDataType = UserDataEventType | (typeof REPORT_DATA_EVENT_TYPES)[number];
