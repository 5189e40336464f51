import type { APIGatewayProxyEventV2 } from 'aws-lambda';

/** The exact bytes the client sent: API Gateway base64-encodes bodies it considers binary. */
export function rawBody(event: Pick<APIGatewayProxyEventV2, 'body' | 'isBase64Encoded'>): Buffer {
  if (event.body === undefined || event.body === null) return Buffer.alloc(0);
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
}

/** Header names are case-insensitive; API Gateway lowercases them, other callers may not. */
export function lowerCaseHeaders(
  headers: APIGatewayProxyEventV2['headers'] | undefined,
): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value !== undefined) result[name.toLowerCase()] = value;
  }
  return result;
}

/** The API's own base URL as the caller reached it (API Gateway sets the host and the scheme header). */
export function requestBaseUrl(event: Pick<APIGatewayProxyEventV2, 'headers' | 'requestContext'>): string {
  const headers = lowerCaseHeaders(event.headers);
  const proto = headers['x-forwarded-proto'] === 'http' ? 'http' : 'https';
  const host = event.requestContext?.domainName ?? headers.host ?? 'localhost';
  const stage = event.requestContext?.stage;
  return `${proto}://${host}${stage && stage !== '$default' ? `/${stage}` : ''}`;
}
