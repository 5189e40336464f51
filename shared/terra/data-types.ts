/**
 * Every user-scoped data event in Terra's `WebhookEventType` union: what the webhook accepts as data and
 * what a `terra.data` event's `type` can be. A plain list, so the event contracts can name it without
 * the webhook's parser.
 */
export const TERRA_DATA_TYPES = [
  'activity',
  'athlete',
  'body',
  'daily',
  'health_observation',
  'hormone',
  'lab_report.completed',
  'lab_report.failed',
  'menstruation',
  'nutrition',
  'planned_workout',
  'sleep',
] as const;

export type TerraDataType = (typeof TERRA_DATA_TYPES)[number];
