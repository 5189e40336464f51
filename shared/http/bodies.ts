import * as z from 'zod/mini';
import type { ConnectRequest, SessionRequest } from '#shared/connections/flows';
import { CONNECTION_STATUSES } from '#shared/connections/model';
import { LANGUAGE, PROVIDER_ID, REDIRECT_TARGET, TERRA_USER_ID } from '#shared/ids';

/** Request bodies, queries and path parameters of the app routes. Errors name the field (see `route`). */
const providerId = z
  .string()
  .check(
    z.trim(),
    z.regex(PROVIDER_ID, "must be a Terra provider id such as 'GARMIN' (letters, digits, underscore)"),
    z.toUpperCase(),
  );
const language = z.optional(
  z.string().check(z.regex(LANGUAGE, "must be a language code such as 'en' or 'en-GB'")),
);
const redirect = z.optional(
  z
    .string()
    .check(
      z.regex(REDIRECT_TARGET, "must be the name of a configured redirect target such as 'web', never a URL"),
    ),
);

export const createSessionBody: z.ZodMiniType<SessionRequest> = z.strictObject({
  providers: z.optional(z.array(providerId).check(z.maxLength(50, 'lists at most 50 providers'))),
  language,
  redirect,
});

export const createConnectionBody: z.ZodMiniType<ConnectRequest> = z.strictObject({
  provider: providerId,
  language,
  redirect,
});

export const emptyBody = z.strictObject({});

export const userIdPath = z.string().check(z.regex(TERRA_USER_ID, 'is not a Terra user id'));

export const listConnectionsQuery = z.strictObject({
  status: z.optional(z.enum(CONNECTION_STATUSES)),
  refresh: z.pipe(
    z.optional(z.enum(['true', 'false'], "must be 'true' or 'false'")),
    z.transform((value) => value === 'true'),
  ),
});
