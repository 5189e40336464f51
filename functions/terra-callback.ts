import { terraCallbackHandler } from '#shared/handlers/terra-callback';

// The Lambda entry: the environment is read once, at cold start; a missing setting fails here, named.
export const handler = terraCallbackHandler(process.env);
