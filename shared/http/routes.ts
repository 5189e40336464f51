/**
 * The HTTP API, as data (docs/architecture.md, "Flows"). The CDK stack and the local adapter both build from this list,
 * so a route cannot exist in one and not the other.
 */
export interface RouteSpec {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  /** The Lambda entry file under `functions/`, without extension. */
  entry: string;
  auth: 'jwt' | 'none';
}

export const ROUTES: readonly RouteSpec[] = [
  { method: 'POST', path: '/webhooks/terra', entry: 'terra-webhook', auth: 'none' },
  { method: 'POST', path: '/sessions', entry: 'create-session', auth: 'jwt' },
  { method: 'POST', path: '/connections', entry: 'create-connection', auth: 'jwt' },
  { method: 'GET', path: '/connections', entry: 'list-connections', auth: 'jwt' },
  { method: 'DELETE', path: '/connections/{user_id}', entry: 'delete-connection', auth: 'jwt' },
  { method: 'GET', path: '/providers', entry: 'list-providers', auth: 'jwt' },
  { method: 'POST', path: '/sdk-token', entry: 'create-sdk-token', auth: 'jwt' },
  { method: 'GET', path: '/callbacks/terra/{outcome}', entry: 'terra-callback', auth: 'none' },
  { method: 'DELETE', path: '/me', entry: 'delete-me', auth: 'jwt' },
  { method: 'GET', path: '/me/deletion', entry: 'get-deletion', auth: 'jwt' },
];
