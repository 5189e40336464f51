import { escapeHtml } from './html.ts';

/**
 * Where local mode's redirect targets point after Terra: `/result?outcome&status&provider&user_id`, as
 * the auth callback appends them. In your app this is the page (or deep link) you configure in
 * `REDIRECT_TARGETS`; it should say what happened and send the user back to where they started.
 */

const HEADLINES: Record<string, (provider: string) => { title: string; text: string }> = {
  active: (provider) => ({
    title: `${provider} is connected`,
    text: 'Terra confirmed the connection and it is active. Its data will arrive as webhooks.',
  }),
  pending: (provider) => ({
    title: `${provider} is almost connected`,
    text: 'You approved at the provider; the connection turns active when Terra’s webhook confirms it.',
  }),
  cancelled: (provider) => ({
    title: 'Connection cancelled',
    text: `The login at ${provider} was cancelled, so nothing was connected. You can try again any time.`,
  }),
  error: () => ({
    title: 'The connection failed',
    text: 'Terra could not confirm the connection, so nothing was recorded. Try again from the demo.',
  }),
};

export function resultPage(params: URLSearchParams): string {
  const outcome = params.get('outcome') === 'success' ? 'success' : 'failure';
  const status = params.get('status') ?? 'error';
  const provider = params.get('provider');
  const userId = params.get('user_id');
  const { title, text } = HEADLINES[status]?.(provider ?? 'the provider') ?? {
    title: `Status: ${status}`,
    text: 'Terra answered with a status this page does not know; the demo shows the connection as recorded.',
  };
  const details = [
    ['Outcome', outcome],
    ['Status', status],
    ['Provider', provider, 'provider'],
    ['Terra user_id', userId, 'user-id'],
  ]
    .filter(([, value]) => value)
    .map(
      ([name, value, id]) =>
        `<dt>${name}</dt><dd><code${id ? ` id="${id}"` : ''}>${escapeHtml(value ?? '')}</code></dd>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)} · terra-connect</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/demo/style.css"></head>
<body><main class="card result" data-outcome="${outcome}">
<h1 id="status" data-status="${escapeHtml(status)}">${escapeHtml(title)}</h1>
<p id="summary">${escapeHtml(text)}</p>
<dl>${details}</dl>
<p class="row"><a id="back" href="/">Back to the demo</a>
<button id="close" type="button" onclick="window.close()">Close this tab</button></p>
</main>
<script>
  // Tell the demo page (the tab that opened this flow) to refresh now rather than at its next poll.
  new BroadcastChannel('terra-connect').postMessage(${JSON.stringify({ outcome, status, provider, user_id: userId }).replace(/</g, '\\u003c')});
</script>
</body></html>`;
}
