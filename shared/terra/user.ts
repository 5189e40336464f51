import * as z from 'zod/mini';

/**
 * Terra's `TerraUser` (v2-bundled.yaml, components/schemas), as it appears both inside webhooks and in
 * REST answers (`/userInfo`, `/subscriptions`). One schema for both, tolerant of what Terra leaves out.
 */
export const terraUserSchema = z.looseObject({
  user_id: z.string().check(z.trim(), z.minLength(1), z.maxLength(256)),
  provider: z.optional(z.string().check(z.trim(), z.minLength(1), z.maxLength(64))),
  scopes: z.nullish(z.string().check(z.maxLength(4096))),
  reference_id: z.nullish(z.string().check(z.maxLength(256))),
  active: z.nullish(z.boolean()),
  last_webhook_update: z.nullish(z.string()),
  created_at: z.nullish(z.string()),
});
export type TerraUser = z.infer<typeof terraUserSchema>;

/** Terra writes an empty or blank reference_id for "none". */
export const presentOrNull = (value: string | null | undefined): string | null =>
  value === null || value === undefined || value.trim() === '' ? null : value;
