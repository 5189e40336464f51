import { deleteConnectionHandler } from '#shared/handlers/delete-connection';

// The Lambda entry: the environment is read once, at cold start; a missing setting fails here, named.
export const handler = deleteConnectionHandler(process.env);
