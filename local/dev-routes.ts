import type { IncomingMessage, ServerResponse } from 'node:http';
import * as z from 'zod';
import { withoutDeletedPeople } from '#demo/forget';
import { isLoopbackHost } from '#sandbox/http';
import { identityProblem } from '#shared/ids';
import type { Archive } from '#shared/webhooks/archive';
import type { DevAuth } from './dev-auth.ts';
import type { LocalPipeline } from './pipeline.ts';
import { resultPage } from './result-page.ts';

/**
 * Local-only endpoints beside the API (never deployed): a dev token for the demo and scripts, the page
 * Terra's redirect lands on, and the feed of events the app would receive from the bus.
 */
const tokenRequest = z.strictObject({ sub: z.string() });

function sendJson(response: ServerResponse, status: number, body: unknown): true {
  response
    .writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
    .end(JSON.stringify(body));
  return true;
}

export function devRoutes(options: {
  auth: DevAuth;
  pipeline: () => LocalPipeline | undefined;
  archive: () => Archive | undefined;
}) {
  return async (
    request: IncomingMessage,
    response: ServerResponse,
    url: URL,
    body: Buffer,
  ): Promise<boolean> => {
    const route = `${request.method} ${url.pathname}`;
    // Tokens and people's events: never to a page that reached us through a DNS name of its own.
    if (url.pathname.startsWith('/dev/') && !isLoopbackHost(request.headers.host)) {
      return sendJson(response, 403, {
        error: {
          code: 'forbidden_host',
          message: 'The local-only endpoints answer only at localhost, 127.0.0.1 or [::1].',
        },
      });
    }
    switch (route) {
      case 'GET /result':
        response
          .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
          .end(resultPage(url.searchParams));
        return true;
      case 'POST /dev/token': {
        let parsed: z.ZodSafeParseResult<z.infer<typeof tokenRequest>>;
        try {
          parsed = tokenRequest.safeParse(JSON.parse(body.toString('utf8') || '{}'));
        } catch {
          parsed = tokenRequest.safeParse(undefined);
        }
        if (!parsed.success) {
          return sendJson(response, 400, {
            error: { code: 'invalid_body', message: 'Send {"sub": "<your user id>"}.' },
          });
        }
        // A token for an identity every route refuses would only surface later as a 401; say why now.
        const problem = identityProblem(parsed.data.sub);
        if (problem !== undefined) {
          return sendJson(response, 400, {
            error: {
              code: 'invalid_identity',
              message: `"sub" ${problem}. The API refuses such an identity with 401.`,
            },
          });
        }
        return sendJson(response, 200, { token: await options.auth.mint({ sub: parsed.data.sub }) });
      }
      case 'GET /dev/events': {
        const after = Number(url.searchParams.get('after') ?? 0);
        // As the app would keep it: nothing about a person from before their terra.user_deleted.
        const events = withoutDeletedPeople(
          options.pipeline()?.feed(Number.isFinite(after) ? after : 0) ?? [],
        );
        return sendJson(response, 200, { events });
      }
      case 'GET /dev/events/payload': {
        // The claim check, resolved the way a consumer would: the archived payload behind terra.data.
        const key = url.searchParams.get('key') ?? '';
        if (!key.startsWith('users/')) return sendJson(response, 404, { message: 'Not Found' });
        const payload = await options
          .archive()
          ?.get(key)
          .catch(() => undefined);
        if (!payload) return sendJson(response, 404, { message: 'Not Found' });
        response
          .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
          .end(payload);
        return true;
      }
      default:
        return false;
    }
  };
}
