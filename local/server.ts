import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
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
// How long a refused upload may go on sending before its connection is cut regardless.
const LINGER_MS = 5_000;
const TEXT_TYPES = /^(application\/(json|x-www-form-urlencoded|xml)|text\/)/i;
// Fatal, so invalid bytes are refused rather than replaced with U+FFFD; ignoreBOM, so a leading byte order
// mark stays in the string as it is in the bytes.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

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

/**
 * The whole body, or 'too_large' as soon as it passes the limit. The rest is then left flowing, not
 * destroyed: destroying the request resets the connection, and the client never reads the 413.
 */
function readBody(request: IncomingMessage): Promise<Buffer | 'too_large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (outcome: () => void) => {
      request.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      outcome();
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) settle(() => resolve('too_large'));
      else chunks.push(chunk);
    };
    const onEnd = () => settle(() => resolve(Buffer.concat(chunks)));
    const onError = (error: Error) => settle(() => reject(error));
    // A client that hangs up mid-body may end the request neither way.
    const onClose = () => settle(() => reject(new Error('request closed before its body ended')));
    request.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

/**
 * Answers 413 at once but closes only once the client has stopped sending (or after LINGER_MS): the rest
 * of the body is still on the wire, so the connection cannot carry another request, and closing a socket
 * with unread bytes makes the kernel reset it, which can take the answer with it.
 */
function refuseTooLarge(request: IncomingMessage, response: ServerResponse): void {
  const body = JSON.stringify({ message: 'Request Entity Too Large' });
  response.writeHead(413, {
    'content-type': 'application/json',
    // The answer goes out whole now and the response ends later; the length tells the client it is complete.
    'content-length': Buffer.byteLength(body),
    connection: 'close',
  });
  response.write(body);
  const close = () => {
    clearTimeout(timer);
    if (!response.writableEnded) response.end();
  };
  const timer = setTimeout(() => {
    close();
    request.socket.destroy();
  }, LINGER_MS).unref();
  request.once('end', close).once('close', close);
  request.resume();
  // The chunk over the limit may have been the last one, its 'end' gone by before we listened.
  if (request.complete) close();
}

function send(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, { ...headers, 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

function utf8(body: Buffer): string | undefined {
  try {
    return UTF8.decode(body);
  } catch {
    return undefined;
  }
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
  // Like API Gateway: a text body passes as a string only when it is valid UTF-8, anything else
  // base64-encoded, so the handler always gets back the exact bytes sent (a webhook signature covers them).
  const text = TEXT_TYPES.test(contentType) ? utf8(body) : undefined;
  const asText = body.length === 0 || text !== undefined;
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
    ...(body.length ? { body: text ?? body.toString('base64') } : {}),
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
  /**
   * Whether the API routes are loaded yet (default: always). Until then everything `extra` does not
   * handle answers 503 with Retry-After, as a real route would otherwise 404 and look like no route at all.
   */
  ready?: () => boolean;
}

const STARTING = { message: 'Service Unavailable: starting' };

/** The API's OpenAPI document as checked in (`npm run openapi` writes it), read once. */
const OPENAPI_DOCUMENT = new URL('../openapi.json', import.meta.url);

/** Why the dev authorizer refused a token, in the words of API Gateway's `error_description`. */
function refusal(error: unknown): string {
  const { code, claim } = (error ?? {}) as { code?: unknown; claim?: unknown };
  if (code === 'ERR_JWT_EXPIRED') return 'the token has expired';
  if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && claim === 'aud')
    return 'the token does not have a valid audience';
  if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && claim === 'iss')
    return 'the token does not have a valid issuer';
  if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && claim === 'exp') return 'the token has no exp claim';
  return 'the token is not valid';
}

export function createLocalServer(options: LocalServerOptions): Server {
  const ready = options.ready ?? (() => true);
  const openapi = readFileSync(OPENAPI_DOCUMENT);
  return createServer(async (request, response) => {
    try {
      const url = new URL(request.url ?? '/', 'http://localhost');
      const body = await readBody(request);
      if (body === 'too_large') return refuseTooLarge(request, response);
      // A file, not a route: it answers while the handlers are still starting.
      if (url.pathname === '/openapi.json' && (request.method === 'GET' || request.method === 'HEAD')) {
        response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache' });
        return void response.end(request.method === 'HEAD' ? undefined : openapi);
      }
      if (options.extra && (await options.extra(request, response, url, body))) return;
      if (!ready()) return send(response, 503, STARTING, { 'retry-after': '1' });

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
        } catch (error) {
          // API Gateway's authorizer answers exactly this body; for a token it refused, the reason is in
          // www-authenticate (AWS: "Troubleshooting issues with HTTP API JWT authorizers").
          const headers: Record<string, string> = token
            ? {
                'www-authenticate': `Bearer scope="" error="invalid_token" error_description="${refusal(error)}"`,
              }
            : {};
          return send(response, 401, { message: 'Unauthorized' }, headers);
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
