import * as z from 'zod';
import type { ConnectRequest, SessionRequest } from '#shared/connections/flows';
import { CONNECTION_STATUSES } from '#shared/connections/model';
import { LANGUAGE, PROVIDER_ID, REDIRECT_TARGET, TERRA_USER_ID } from '#shared/ids';

/** Request bodies, queries and path parameters of the app routes. Errors name the field (see `route`). */
const providerId = z
  .string()
  .trim()
  .regex(PROVIDER_ID, "must be a Terra provider id such as 'GARMIN' (letters, digits, underscore)")
  .transform((value) => value.toUpperCase());
const language = z.string().regex(LANGUAGE, "must be a language code such as 'en' or 'en-GB'").optional();
const redirect = z
  .string()
  .regex(REDIRECT_TARGET, "must be the name of a configured redirect target such as 'web', never a URL")
  .optional();

export const createSessionBody: z.ZodType<SessionRequest> = z.strictObject({
  providers: z.array(providerId).max(50, 'lists at most 50 providers').optional(),
  language,
  redirect,
});

export const createConnectionBody: z.ZodType<ConnectRequest> = z.strictObject({
  provider: providerId,
  language,
  redirect,
});

export const emptyBody = z.strictObject({});

export const userIdPath = z.string().regex(TERRA_USER_ID, 'is not a Terra user id');

export const listConnectionsQuery = z.strictObject({
  status: z.enum(CONNECTION_STATUSES).optional(),
  refresh: z
    .enum(['true', 'false'], "must be 'true' or 'false'")
    .optional()
    .transform((value) => value === 'true'),
});
