import { deletionWorkerHandler } from '#shared/handlers/deletion-worker';

// The Lambda entry: the environment is read once, at cold start; a missing setting fails here, named.
export const handler = deletionWorkerHandler(process.env);
