import type { APIGatewayProxyEventV2WithJWTAuthorizer } from 'aws-lambda';
import * as z from 'zod';
import { identityConfig } from '../config.ts';
import { logger } from '../log.ts';
import { BadRequest, PayloadTooLarge, Unauthorized, UnsupportedMediaType } from './errors.ts';
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

const MAX_BODY_BYTES = 64 * 1024;
const REFERENCE_ID = /^[\x21-\x7e]{1,256}$/;

function describe(error: z.ZodError, where: string): string {
  return error.issues
    .map(
      (issue) =>
        `${issue.path.length ? `${where} field '${issue.path.join('.')}'` : where}: ${issue.message}`,
    )
    .join('; ');
}

function callerOf(event: APIGatewayProxyEventV2WithJWTAuthorizer): Caller {
  const value = event.requestContext?.authorizer?.jwt?.claims?.[identityConfig().claim];
  if (typeof value !== 'string' || !REFERENCE_ID.test(value)) {
    throw new Unauthorized(`The token has no usable '${identityConfig().claim}' claim.`);
  }
  return { referenceId: value };
}

function bodyOf<B>(event: APIGatewayProxyEventV2WithJWTAuthorizer, schema: z.ZodType<B>): B {
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
  options: { body?: z.ZodType<B>; query?: z.ZodType<Q>; path?: { [K in keyof P]: z.ZodType<P[K]> } },
  run: (input: RouteInput<B, Q, P>) => Promise<RouteResult>,
) {
  return async (event: APIGatewayProxyEventV2WithJWTAuthorizer): Promise<HttpResult> => {
    try {
      const caller = callerOf(event);
      const body = options.body ? bodyOf(event, options.body) : (undefined as B);
      const querySchema = options.query ?? z.object({}).strict();
      const query = querySchema.safeParse(event.queryStringParameters ?? {});
      if (!query.success) throw new BadRequest(describe(query.error, 'query'), 'invalid_query');
      const path = z.object(options.path ?? {}).safeParse(event.pathParameters ?? {});
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
      return errorResponse(error, logger);
    }
  };
}
