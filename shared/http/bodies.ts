import * as z from 'zod';

/** Request bodies and queries of the app routes. Errors name the field (see `route`). */
const providerId = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9_]{2,40}$/, "must be a Terra provider id such as 'GARMIN' (letters, digits, underscore)")
  .transform((value) => value.toUpperCase());
const language = z
  .string()
  .regex(/^[a-z]{2}(-[A-Za-z]{2})?$/, "must be a language code such as 'en' or 'en-GB'")
  .optional();
const redirect = z
  .string()
  .regex(/^[a-z0-9_-]{1,32}$/, "must be the name of a configured redirect target such as 'web', never a URL")
  .optional();

export const createSessionBody = z.strictObject({
  providers: z.array(providerId).max(50, 'lists at most 50 providers').optional(),
  language,
  redirect,
});
export type CreateSessionBody = z.infer<typeof createSessionBody>;

export const createConnectionBody = z.strictObject({ provider: providerId, language, redirect });
export type CreateConnectionBody = z.infer<typeof createConnectionBody>;

export const emptyBody = z.strictObject({});

export const userIdPath = z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, 'is not a Terra user id');
