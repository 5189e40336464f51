import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type {
  APIGatewayProxyEventV2WithJWTAuthorizer,
  APIGatewayProxyResultV2,
  APIGatewayProxyStructuredResultV2,
} from 'aws-lambda';
import type { RouteSpec } from '#shared/http/routes';
import type { DevAuth } from './dev-auth.ts';

/**
 * The local HTTP adapter: turns real HTTP requests into API Gateway HTTP API (payload 2.0) events, runs
 * the same handlers Lambda runs, and writes their results back. JWT routes go through the local
 * authorizer first, as API Gateway's authorizer would.
 */
export type LambdaHandler = (
  event: APIGatewayProxyEventV2WithJWTAuthorizer,
) => Promise<APIGatewayProxyResultV2>;

export interface LocalRoute extends RouteSpec {
  handler: LambdaHandler;
}

// API Gateway's own payload limit.
const MAX_BODY_BYTES = 10 * 1024 * 1024;
const TEXT_TYPES = /^(application\/(json|x-www-form-urlencoded|xml)|text\/)/i;

function match(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const segment = want[i] ?? '';
    const actual = got[i] ?? '';
    if (segment.startsWith('{') && segment.endsWith('}')) {
      if (actual === '') return undefined;
      try {
        params[segment.slice(1, -1)] = decodeURIComponent(actual);
      } catch {
        return undefined;
      }
    } else if (segment !== actual) return undefined;
  }
  return params;
}

async function readBody(request: IncomingMessage): Promise<Buffer | 'too_large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return 'too_large';
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

function writeResult(response: ServerResponse, result: APIGatewayProxyResultV2): void {
  const structured: APIGatewayProxyStructuredResultV2 =
    typeof result === 'string' ? { statusCode: 200, body: result } : result;
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(structured.headers ?? {})) headers[name] = String(value);
  if (structured.cookies?.length) headers['set-cookie'] = structured.cookies;
  response.writeHead(structured.statusCode ?? 200, headers);
  const body = structured.body ?? '';
  response.end(structured.isBase64Encoded ? Buffer.from(body, 'base64') : body);
}

export function buildEvent(
  request: IncomingMessage,
  route: RouteSpec,
  url: URL,
  pathParameters: Record<string, string>,
  body: Buffer,
  claims: Record<string, unknown> | undefined,
): APIGatewayProxyEventV2WithJWTAuthorizer {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  // API Gateway tells the function how the client reached it; locally that is plain http.
  headers['x-forwarded-proto'] ??= 'http';
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams)
    query[name] = name in query ? `${query[name]},${value}` : value;
  const contentType = headers['content-type'] ?? '';
  // Like API Gateway: text bodies pass as strings, anything else base64-encoded.
  const asText = body.length === 0 || TEXT_TYPES.test(contentType);
  const now = new Date();
  const jwtClaims: Record<string, string | number | boolean | string[]> = {};
  for (const [name, value] of Object.entries(claims ?? {})) {
    if (['string', 'number', 'boolean'].includes(typeof value))
      jwtClaims[name] = value as string | number | boolean;
    else if (Array.isArray(value)) jwtClaims[name] = value.map(String);
  }
  const routeKey = `${route.method} ${route.path}`;
  return {
    version: '2.0',
    routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    ...(Object.keys(query).length ? { queryStringParameters: query } : {}),
    ...(Object.keys(pathParameters).length ? { pathParameters } : {}),
    isBase64Encoded: !asText,
    ...(body.length ? { body: asText ? body.toString('utf8') : body.toString('base64') } : {}),
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'localhost',
      http: {
        method: request.method ?? 'GET',
        path: url.pathname,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey,
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
      authorizer: { principalId: '', integrationLatency: 0, jwt: { claims: jwtClaims, scopes: [] } },
    },
  };
}

export interface LocalServerOptions {
  routes: readonly LocalRoute[];
  auth: DevAuth;
  /** Extra local-only endpoints (dev token, demo page) tried before the API routes. */
  extra?: (request: IncomingMessage, response: ServerResponse, url: URL, body: Buffer) => Promise<boolean>;
}

export function createLocalServer(options: LocalServerOptions): Server {
  return createServer(async (request, response) => {
    try {
      const url = new URL(request.url ?? '/', 'http://localhost');
      const body = await readBody(request);
      if (body === 'too_large') return send(response, 413, { message: 'Request Entity Too Large' });
      if (options.extra && (await options.extra(request, response, url, body))) return;

      let params: Record<string, string> | undefined;
      const route = options.routes.find((candidate) => {
        if (candidate.method !== request.method) return false;
        params = match(candidate.path, url.pathname);
        return params !== undefined;
      });
      if (!route || !params) return send(response, 404, { message: 'Not Found' });

      let claims: Record<string, unknown> | undefined;
      if (route.auth === 'jwt') {
        const header = request.headers.authorization ?? '';
        const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
        try {
          if (!token) throw new Error('no token');
          claims = await options.auth.verify(token);
        } catch {
          // API Gateway's authorizer answers exactly this, without detail.
          return send(response, 401, { message: 'Unauthorized' });
        }
      }
      const result = await route.handler(buildEvent(request, route, url, params, body, claims));
      writeResult(response, result);
    } catch {
      // A handler that throws is what API Gateway reports as 500 Internal Server Error.
      if (!response.headersSent) send(response, 500, { message: 'Internal Server Error' });
      else response.destroy();
    }
  });
}
