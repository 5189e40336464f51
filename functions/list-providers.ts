import { listProvidersHandler } from '#shared/handlers/list-providers';

// The Lambda entry: the environment is read once, at cold start; a missing setting fails here, named.
export const handler = listProvidersHandler(process.env);
