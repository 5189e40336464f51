import type { Env } from '#shared/config';
import type { DeletionQueue } from '#shared/privacy/worker';
import { createConnectionHandler } from './create-connection.ts';
import { createSdkTokenHandler } from './create-sdk-token.ts';
import { createSessionHandler } from './create-session.ts';
import { deleteConnectionHandler } from './delete-connection.ts';
import { deleteMeHandler } from './delete-me.ts';
import { getDeletionHandler } from './get-deletion.ts';
import { listConnectionsHandler } from './list-connections.ts';
import { listProvidersHandler } from './list-providers.ts';
import type { HttpEntry } from './manifest.ts';
import { terraCallbackHandler } from './terra-callback.ts';
import { terraWebhookHandler } from './terra-webhook.ts';

/**
 * Every HTTP handler by its entry in the manifest (shared/handlers/manifest.ts): a routed entry without
 * its handler here, or a handler without a route, does not compile. The Lambda entries in
 * `functions/` bind one each to `process.env`; the local stack builds all of them from its own
 * configuration, so two stacks in one process never share a table or a secret.
 */
export const HTTP_HANDLERS = {
  'terra-webhook': terraWebhookHandler,
  'create-session': createSessionHandler,
  'create-connection': createConnectionHandler,
  'list-connections': listConnectionsHandler,
  'delete-connection': deleteConnectionHandler,
  'list-providers': listProvidersHandler,
  'create-sdk-token': createSdkTokenHandler,
  'terra-callback': terraCallbackHandler,
  'delete-me': deleteMeHandler,
  'get-deletion': getDeletionHandler,
} as const satisfies Record<HttpEntry, (env: Env, overrides?: HandlerOverrides) => unknown>;

/** What local mode hands a handler besides its configuration: adapters that have no local engine. */
export interface HandlerOverrides {
  queue?: DeletionQueue;
}

export type { HttpEntry } from './manifest.ts';
