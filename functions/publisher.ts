import { publisherHandler } from '#shared/handlers/publisher';

// The Lambda entry: the environment is read once, at cold start; a missing setting fails here, named.
export const handler = publisherHandler(process.env);
