import { terraWebhookHandler } from '#shared/handlers/terra-webhook';

// The Lambda entry: the environment is read once, at cold start; a missing setting fails here, named.
export const handler = terraWebhookHandler(process.env);
