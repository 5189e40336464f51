import { escapeHtml } from '#local/html';
import { iconPath, type Provider } from './catalogue.ts';
import type { LoginFlow } from './flows.ts';

/**
 * The browser side of the sandbox: Terra's widget (provider choice) and a fake provider login. Plain
 * server-rendered HTML with no scripts or external assets; element ids and data attributes are a contract
 * for browser tests (`[data-provider]`, `#account`, `#approve`, `#cancel`).
 */

const STYLE = `
body{font-family:system-ui,sans-serif;background:#f4f5f7;color:#1d1d1f;margin:0;display:flex;justify-content:center}
main{background:#fff;margin:48px 16px;padding:32px;border-radius:16px;box-shadow:0 2px 12px #0001;width:100%;max-width:420px}
h1{font-size:1.3rem;margin:0 0 4px}p.note{color:#666;font-size:.85rem;margin:0 0 20px}
ul{list-style:none;padding:0;margin:0}li{margin:8px 0}
a.provider{display:flex;align-items:center;gap:12px;padding:10px 12px;border:1px solid #ddd;border-radius:10px;
color:inherit;text-decoration:none}a.provider:hover{border-color:#888}
img{width:32px;height:32px}label{display:block;font-size:.9rem;margin:16px 0 6px}
input{width:100%;box-sizing:border-box;padding:10px;border:1px solid #ccc;border-radius:8px;font-size:1rem}
.actions{display:flex;gap:12px;margin-top:20px}button{flex:1;padding:10px;border-radius:8px;font-size:1rem;
border:1px solid #ccc;background:#fff;cursor:pointer}button#approve{background:#1d1d1f;color:#fff;border-color:#1d1d1f}
code{font-size:.85rem;word-break:break-all}`;

function page(title: string, language: string | null, content: string): string {
  const lang = escapeHtml(language ?? 'en');
  return `<!doctype html>
<html lang="${lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)} · Terra sandbox</title><style>${STYLE}</style></head>
<body><main>${content}
<p class="note">Local Terra sandbox: nothing here talks to Terra or to a real provider.</p></main></body></html>`;
}

export function widgetPage(options: {
  sessionId: string;
  providers: readonly Provider[];
  language: string | null;
}): string {
  const items = options.providers
    .map((provider) => {
      const href = `/widget/session/${encodeURIComponent(options.sessionId)}/connect/${provider.provider}`;
      return `<li><a class="provider" data-provider="${provider.provider}" href="${href}">
<img src="${iconPath(provider)}" alt=""><span>${escapeHtml(provider.name)}</span></a></li>`;
    })
    .join('\n');
  return page(
    'Connect a device',
    options.language,
    `<h1>Connect a device</h1><p class="note">Choose the service you want to connect.</p>
<ul id="providers">${items}</ul>`,
  );
}

export function loginPage(options: { flow: LoginFlow; provider: Provider; action: string }): string {
  const name = escapeHtml(options.provider.name);
  return page(
    `Sign in to ${options.provider.name}`,
    options.flow.language,
    `<h1 id="provider-name">
<img src="${iconPath(options.provider)}" alt=""> ${name}</h1>
<p class="note">Sign in and allow Terra to read your ${name} data.</p>
<form method="post" action="${escapeHtml(options.action)}">
<label for="account">Account name</label>
<input id="account" name="account" value="demo-account" autocomplete="off">
<div class="actions">
<button id="cancel" type="submit" name="decision" value="cancel">Cancel</button>
<button id="approve" type="submit" name="decision" value="approve">Approve</button>
</div></form>`,
  );
}

/** Where Terra's hosted pages would end when the developer gave no redirect URL. */
export function resultPage(options: {
  outcome: 'connected' | 'cancelled';
  provider: Provider;
  userId: string;
  referenceId: string | null;
  language: string | null;
}): string {
  const heading =
    options.outcome === 'connected' ? `${options.provider.name} connected` : 'Connection cancelled';
  return page(
    heading,
    options.language,
    `<h1 id="outcome" data-outcome="${options.outcome}">${escapeHtml(heading)}</h1>
<p>You can close this window.</p>
<p class="note">user_id <code id="user-id">${escapeHtml(options.userId)}</code><br>
reference_id <code>${escapeHtml(options.referenceId ?? 'null')}</code></p>`,
  );
}

export function messagePage(title: string, text: string): string {
  return page(title, null, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p>`);
}

export function indexPage(options: { url: string; apiUrl: string }): string {
  const lines = [
    ['Terra REST API', options.apiUrl],
    ['Widget sessions', `POST ${options.url}/api/widget/session`],
    ['Connect a user', `POST ${options.url}/sandbox/users {"reference_id", "provider", "account"?}`],
    ['Fire an event', `POST ${options.url}/sandbox/users/{user_id}/events/{type} {"bytes"?}`],
    ['Deliveries', `GET ${options.url}/sandbox/deliveries`],
    ['Settings', `GET | POST ${options.url}/sandbox/settings`],
  ];
  const items = lines.map(([name, value]) => `<li>${name}<br><code>${escapeHtml(value ?? '')}</code></li>`);
  return page('Terra sandbox', null, `<h1>Terra sandbox</h1><ul>${items.join('\n')}</ul>`);
}
