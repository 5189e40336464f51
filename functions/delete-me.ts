import { deleteMeHandler } from '#shared/handlers/delete-me';

// The Lambda entry: the environment is read once, at cold start; a missing setting fails here, named.
export const handler = deleteMeHandler(process.env);
