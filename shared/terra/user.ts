import * as z from 'zod';

/**
 * Terra's `TerraUser` (v2-bundled.yaml, components/schemas), as it appears both inside webhooks and in
 * REST answers (`/userInfo`, `/subscriptions`). One schema for both, tolerant of what Terra leaves out.
 */
export const terraUserSchema = z.looseObject({
  user_id: z.string().trim().min(1).max(256),
  provider: z.string().trim().min(1).max(64).optional(),
  scopes: z.string().max(4096).nullish(),
  reference_id: z.string().max(256).nullish(),
  active: z.boolean().nullish(),
  last_webhook_update: z.string().nullish(),
  created_at: z.string().nullish(),
});
export type TerraUser = z.infer<typeof terraUserSchema>;

/** Terra writes an empty or blank reference_id for "none". */
export const presentOrNull = (value: string | null | undefined): string | null =>
  value === null || value === undefined || value.trim() === '' ? null : value;
