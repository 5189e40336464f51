import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { DomainError, type ErrorKind } from '#shared/errors';
import type { Log } from '#shared/log';

export type HttpResult = APIGatewayProxyStructuredResultV2 & { statusCode: number };

/** The one place an error's meaning becomes an HTTP status. */
const STATUS: Record<ErrorKind, number> = {
  bad_request: 400,
  unauthorized: 401,
  not_found: 404,
  payload_too_large: 413,
  unsupported_media_type: 415,
  upstream_failed: 502,
  upstream_timeout: 504,
};

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
  if (error instanceof DomainError) return json(STATUS[error.kind], errorBody(error.code, error.message));
  log.error('unhandled error', {
    error: error instanceof Error ? { name: error.name, message: error.message } : 'unknown',
  });
  return json(500, errorBody('internal_error', 'Something went wrong on our side; please retry.'));
}
