import { getDeletionHandler } from '#shared/handlers/get-deletion';

// The Lambda entry: the environment is read once, at cold start; a missing setting fails here, named.
export const handler = getDeletionHandler(process.env);
