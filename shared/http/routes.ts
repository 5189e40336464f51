/**
 * The HTTP API, as data (DESIGN §2). The CDK stack and the local adapter both build from this list,
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
  { method: 'GET', path: '/connections', entry: 'list-connections', auth: 'jwt' },
];
