import { escapeHtml } from './html.ts';

/** Where local mode's redirect targets point: a page that says what happened after Terra. */

const MESSAGES: Record<string, string> = {
  active: 'Connected. The connection is active.',
  pending: 'Connected at the provider; waiting for Terra to confirm.',
  cancelled: 'The connection was cancelled at the provider. Nothing was connected.',
  error: 'The connection could not be confirmed with Terra. Nothing was connected.',
};

export function resultPage(params: URLSearchParams): string {
  const status = params.get('status') ?? 'error';
  const provider = params.get('provider');
  const userId = params.get('user_id');
  const message = MESSAGES[status] ?? `Status: ${status}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>terra-connect: ${escapeHtml(status)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto">
<h1 id="status" data-status="${escapeHtml(status)}">${escapeHtml(message)}</h1>
${provider ? `<p>Provider: <strong id="provider">${escapeHtml(provider)}</strong></p>` : ''}
${userId ? `<p>Terra user: <code id="user-id">${escapeHtml(userId)}</code></p>` : ''}
<p><a href="/">Back</a></p>
</body></html>`;
}
