import { createSessionHandler } from '#shared/handlers/create-session';

// The Lambda entry: the environment is read once, at cold start; a missing setting fails here, named.
export const handler = createSessionHandler(process.env);
