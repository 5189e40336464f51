import type { APIGatewayProxyEventV2WithJWTAuthorizer } from 'aws-lambda';
import * as z from 'zod/mini';
import { BadRequest, PayloadTooLarge, Unauthorized, UnsupportedMediaType } from '#shared/errors';
import { APP_IDENTITY } from '#shared/ids';
import type { Log } from '#shared/log';
import { rawBody, requestBaseUrl } from './request.ts';
import { errorResponse, type HttpResult, json } from './respond.ts';

/**
 * Everything an app route shares, once: the caller's identity from the verified JWT (never from the
 * body or query), body and query validation, and mapping errors to `{error: {code, message}}`.
 */
export interface Caller {
  /** The JWT claim named by IDENTITY_CLAIM (default `sub`); it is Terra's `reference_id`. */
  referenceId: string;
}

export interface RouteInput<B, Q, P> {
  caller: Caller;
  body: B;
  query: Q;
  path: P;
  /** This API's base URL as the caller reached it; callback URLs are built from it. */
  baseUrl: string;
}

export interface RouteResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** What every app route is built with: which claim names the caller, and where errors are logged. */
export interface RouteContext {
  identityClaim: string;
  log: Log;
}

export type AppRouteHandler = (event: APIGatewayProxyEventV2WithJWTAuthorizer) => Promise<HttpResult>;

const MAX_BODY_BYTES = 64 * 1024;

function describe(
  error: { issues: ReadonlyArray<{ path: PropertyKey[]; message: string }> },
  where: string,
): string {
  return error.issues
    .map(
      (issue) =>
        `${issue.path.length ? `${where} field '${issue.path.map(String).join('.')}'` : where}: ${issue.message}`,
    )
    .join('; ');
}

/** The verified token's identity claim; empty, oversized or control-character values never pass. */
export function callerOf(event: APIGatewayProxyEventV2WithJWTAuthorizer, claim: string): Caller {
  const value = event.requestContext?.authorizer?.jwt?.claims?.[claim];
  if (typeof value !== 'string' || !APP_IDENTITY.test(value)) {
    throw new Unauthorized(`The token has no usable '${claim}' claim.`);
  }
  return { referenceId: value };
}

function bodyOf<B>(event: APIGatewayProxyEventV2WithJWTAuthorizer, schema: z.ZodMiniType<B>): B {
  const bytes = rawBody(event);
  if (bytes.length > MAX_BODY_BYTES)
    throw new PayloadTooLarge(`The body is larger than ${MAX_BODY_BYTES} bytes.`);
  let value: unknown = {};
  if (bytes.length > 0) {
    const type = Object.entries(event.headers ?? {}).find(
      ([name]) => name.toLowerCase() === 'content-type',
    )?.[1];
    if (!type || !/^application\/json\s*(;|$)/i.test(type)) {
      throw new UnsupportedMediaType("Send the body as JSON with 'Content-Type: application/json'.");
    }
    try {
      value = JSON.parse(bytes.toString('utf8'));
    } catch {
      throw new BadRequest('The body is not valid JSON.', 'invalid_json');
    }
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new BadRequest(describe(parsed.error, 'body'), 'invalid_body');
  return parsed.data;
}

export function route<
  B = undefined,
  Q = Record<string, never>,
  P extends Record<string, string> = Record<string, never>,
>(
  context: RouteContext,
  options: {
    body?: z.ZodMiniType<B>;
    query?: z.ZodMiniType<Q>;
    path?: { [K in keyof P]: z.ZodMiniType<P[K]> };
  },
  run: (input: RouteInput<B, Q, P>) => Promise<RouteResult>,
): AppRouteHandler {
  const querySchema = options.query ?? z.strictObject({});
  const pathSchema = z.object(options.path ?? {});
  return async (event) => {
    try {
      const caller = callerOf(event, context.identityClaim);
      const body = options.body ? bodyOf(event, options.body) : (undefined as B);
      const query = querySchema.safeParse(event.queryStringParameters ?? {});
      if (!query.success) throw new BadRequest(describe(query.error, 'query'), 'invalid_query');
      const path = pathSchema.safeParse(event.pathParameters ?? {});
      if (!path.success) throw new BadRequest(describe(path.error, 'path'), 'invalid_path');
      const result = await run({
        caller,
        body,
        query: query.data as Q,
        path: path.data as P,
        baseUrl: requestBaseUrl(event),
      });
      return json(result.status, result.body, result.headers);
    } catch (error) {
      return errorResponse(error, context.log);
    }
  };
}
