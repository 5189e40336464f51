import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2WithJWTAuthorizer } from 'aws-lambda';
import { ROUTES, type RouteSpec } from '#shared/http/routes';

/**
 * API Gateway HTTP API events (payload format 2.0) as AWS hands them to a function: the headers API
 * Gateway adds, the request context, and for JWT routes the authorizer's verified claims. Kept free of
 * heavy imports: the memory worker bundles it.
 */
export const API_HOST = 'abc123def4.execute-api.us-east-1.amazonaws.com';

export interface HttpRequest {
  /** The route as in shared/http/routes.ts, by entry name. */
  entry: string;
  /** The path as called, e.g. `/connections/1234`; default the route's path. */
  path?: string;
  pathParameters?: Record<string, string>;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: string;
  /** For JWT routes: the claims the authorizer verified (`sub` is the caller). */
  claims?: Record<string, string | number>;
  userAgent?: string;
}

export function routeOf(entry: string): RouteSpec {
  const route = ROUTES.find((candidate) => candidate.entry === entry);
  if (!route) throw new Error(`no route for entry '${entry}' in shared/http/routes.ts`);
  return route;
}

/** Claims as a Cognito (or any OIDC) access token carries them, for the caller `sub`. */
export function jwtClaims(sub: string): Record<string, string | number> {
  const now = Math.floor(Date.now() / 1000);
  return {
    sub,
    iss: 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEfGhI',
    client_id: '4n8c6q2r0example',
    token_use: 'access',
    scope: 'openid profile',
    auth_time: now - 600,
    iat: now - 60,
    exp: now + 3540,
    jti: randomUUID(),
    username: sub,
  };
}

export function apiGatewayEvent(request: HttpRequest): APIGatewayProxyEventV2WithJWTAuthorizer {
  const route = routeOf(request.entry);
  const path = request.path ?? route.path;
  const now = new Date();
  const query = request.query ?? {};
  const rawQueryString = new URLSearchParams(query).toString();
  const userAgent = request.userAgent ?? 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X)';
  const headers: Record<string, string> = {
    accept: '*/*',
    host: API_HOST,
    'user-agent': userAgent,
    'x-amzn-trace-id': `Root=1-${Math.floor(now.getTime() / 1000).toString(16)}-${randomUUID().replace(/-/g, '').slice(0, 24)}`,
    'x-forwarded-for': '203.0.113.42',
    'x-forwarded-port': '443',
    'x-forwarded-proto': 'https',
    ...(request.body !== undefined ? { 'content-length': String(Buffer.byteLength(request.body)) } : {}),
    ...(route.auth === 'jwt' ? { authorization: `Bearer ${randomUUID()}.${randomUUID()}` } : {}),
    ...request.headers,
  };
  const claims = route.auth === 'jwt' ? (request.claims ?? jwtClaims('bench-user')) : undefined;
  return {
    version: '2.0',
    routeKey: `${route.method} ${route.path}`,
    rawPath: path,
    rawQueryString,
    headers,
    ...(rawQueryString ? { queryStringParameters: query } : {}),
    ...(request.pathParameters ? { pathParameters: request.pathParameters } : {}),
    isBase64Encoded: false,
    ...(request.body !== undefined ? { body: request.body } : {}),
    requestContext: {
      accountId: '123456789012',
      apiId: API_HOST.split('.')[0] ?? 'abc123def4',
      domainName: API_HOST,
      domainPrefix: API_HOST.split('.')[0] ?? 'abc123def4',
      http: { method: route.method, path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.42', userAgent },
      requestId: randomUUID().slice(0, 18),
      routeKey: `${route.method} ${route.path}`,
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
      authorizer: {
        principalId: '',
        integrationLatency: 0,
        jwt: {
          claims: Object.fromEntries(Object.entries(claims ?? {}).map(([k, v]) => [k, v])),
          scopes: [],
        },
      },
    },
  };
}

/** Terra's delivery of one webhook body, with the headers Terra signs it with. */
export function webhookEvent(body: string, terraHeaders: Record<string, string>) {
  const event = apiGatewayEvent({
    entry: 'terra-webhook',
    body,
    headers: terraHeaders,
    userAgent: 'Terra-Webhooks/1.0',
  });
  // API Gateway sends no authorizer context on a route without one.
  const { authorizer: _none, ...requestContext } = event.requestContext;
  return { ...event, requestContext };
}

/** An EventBridge Scheduler/Rule invocation, as the reconcile gets it. */
export function scheduledEvent(ruleName: string) {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '123456789012',
    time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    region: 'us-east-1',
    resources: [`arn:aws:events:us-east-1:123456789012:rule/${ruleName}`],
    detail: {},
  };
}
