import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import type * as z from 'zod';

/**
 * Request and response plumbing shared by the API, the pages and the controls. Errors come out in either of
 * Terra's two shapes: RFC 9457 problem+json (`components/responses` in v2-bundled.yaml) or the older
 * `{status: 'error', message}` that Terra's widget spec and older endpoints still describe.
 */
export interface SandboxRequest {
  method: string;
  url: URL;
  /** Path and query as received, for the problem's `instance`. */
  target: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** An error answer from the sandbox; named apart from the backend's own `HttpError` (shared/http/errors.ts). */
export class SandboxHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const badRequest = (detail: string) => new SandboxHttpError(400, detail);
export const notFound = (detail: string) => new SandboxHttpError(404, detail);

/**
 * Whether a request names this machine in its Host header. Local-only endpoints answer nothing else, so a
 * page on another site that has rebound its DNS name to 127.0.0.1 cannot reach them as same-origin.
 */
export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    return ['localhost', '127.0.0.1', '[::1]'].includes(new URL(`http://${host}`).hostname);
  } catch {
    return false;
  }
}

// Local development only: small bodies, and a bound keeps a runaway client from filling memory.
const MAX_BODY_BYTES = 1024 * 1024;

export async function readRequest(incoming: IncomingMessage): Promise<SandboxRequest> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of incoming) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new SandboxHttpError(413, `request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  const target = incoming.url ?? '/';
  return {
    method: incoming.method ?? 'GET',
    url: new URL(target, 'http://localhost'),
    target,
    headers: incoming.headers,
    body: Buffer.concat(chunks),
  };
}

/** The JSON body, `{}` when empty. Anything else that is not JSON is the caller's mistake. */
export function jsonBody(request: SandboxRequest): unknown {
  const text = request.body.toString('utf8').trim();
  if (text === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest('the request body is not valid JSON');
  }
}

/** A 400 naming the first field zod rejected and why. */
export function invalidInput(error: z.ZodError, what = 'body'): SandboxHttpError {
  const issue = error.issues[0];
  return badRequest(`${issue?.path.join('.') || what}: ${issue?.message ?? 'invalid'}`);
}

export function parseWith<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw invalidInput(result.error);
}

/** A query parameter that must be present and non-empty. */
export function requiredParam(request: SandboxRequest, name: string): string {
  const value = request.url.searchParams.get(name);
  if (!value) throw badRequest(`the ${name} query parameter is required`);
  return value;
}

export function formBody(request: SandboxRequest): URLSearchParams {
  return new URLSearchParams(request.body.toString('utf8'));
}

export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  response.end(text);
}

export function sendText(response: ServerResponse, status: number, contentType: string, text: string): void {
  response.writeHead(status, {
    'content-type': contentType,
    'content-length': String(Buffer.byteLength(text)),
    // The pages load nothing from elsewhere. No form-action: Approve may redirect to an app's deep link.
    'content-security-policy': "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'",
  });
  response.end(text);
}

export function redirect(response: ServerResponse, location: string): void {
  response.writeHead(302, { location, 'content-length': '0' });
  response.end();
}

export function sendError(
  response: ServerResponse,
  request: Pick<SandboxRequest, 'target'>,
  error: SandboxHttpError,
  shape: 'problem' | 'message',
): void {
  if (shape === 'message') {
    sendJson(response, error.status, { status: 'error', message: error.message }, error.headers);
    return;
  }
  const body = JSON.stringify({
    type: 'about:blank',
    // RFC 9457 as Terra uses it: the lower-cased status text.
    title: (STATUS_CODES[error.status] ?? 'error').toLowerCase(),
    detail: error.message,
    instance: request.target,
  });
  response.writeHead(error.status, {
    'content-type': 'application/problem+json',
    'content-length': String(Buffer.byteLength(body)),
    ...error.headers,
  });
  response.end(body);
}
