import { backfillHandler } from '#shared/handlers/backfill';

// The Lambda entry: the environment is read once, at cold start; a missing setting fails here, named.
export const handler = backfillHandler(process.env);
