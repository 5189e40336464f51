import { reconcileHandler } from '#shared/handlers/reconcile';

// The Lambda entry: the environment is read once, at cold start; a missing setting fails here, named.
export const handler = reconcileHandler(process.env);
