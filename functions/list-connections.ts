import { listConnectionsHandler } from '#shared/handlers/list-connections';

// The Lambda entry: the environment is read once, at cold start; a missing setting fails here, named.
export const handler = listConnectionsHandler(process.env);
