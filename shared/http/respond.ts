import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { Log } from '../log.ts';
import { HttpError } from './errors.ts';

export type HttpResult = APIGatewayProxyStructuredResultV2 & { statusCode: number };

export function json(statusCode: number, body?: unknown, headers: Record<string, string> = {}): HttpResult {
  if (body === undefined) return { statusCode, headers };
  return {
    statusCode,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

export function errorBody(code: string, message: string) {
  return { error: { code, message } };
}

/** Maps any thrown value to a response. Unknown errors become a bare 500: no stack, no detail leaks. */
export function errorResponse(error: unknown, log: Log): HttpResult {
  if (error instanceof HttpError) return json(error.status, errorBody(error.code, error.message));
  log.error('unhandled error', {
    error: error instanceof Error ? { name: error.name, message: error.message } : 'unknown',
  });
  return json(500, errorBody('internal_error', 'Something went wrong on our side; please retry.'));
}
