import { createConnectionHandler } from '#shared/handlers/create-connection';

// The Lambda entry: the environment is read once, at cold start; a missing setting fails here, named.
export const handler = createConnectionHandler(process.env);
