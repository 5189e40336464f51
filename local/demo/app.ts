import {
  ApiError,
  type Connection,
  connectProvider,
  devToken,
  disconnect,
  listConnections,
  listProviders,
  type Provider,
  startWidgetSession,
} from './api.ts';
import { type Delivery, fireEvent, recentDeliveries, SANDBOX_EVENTS } from './sandbox.ts';

/**
 * The demo page: sign in as a dev user, connect a wearable through Terra's widget or your own provider
 * buttons, watch the connection list follow the webhooks, disconnect. Every API call is in `api.ts`.
 */

interface DemoConfig {
  /** The Terra sandbox's URL, or null when the local API talks to real Terra. */
  sandbox_url: string | null;
  terra_api_url: string;
}

// Webhooks change connections behind the page's back; polling is the simplest way to follow them.
const POLL_MS = 2_000;
const STORAGE_KEY = 'terra-connect-demo';
// The result page tells this page when a tab it opened comes back from Terra.
const CHANNEL = 'terra-connect';
const NEEDS_RECONNECT = new Set(['error', 'revoked']);
const TERMINAL = new Set(['replaced', 'disconnected', 'failed']);

let config: DemoConfig = { sandbox_url: null, terra_api_url: '' };
let user: { name: string; token: string } | null = null;
let providers: Provider[] = [];
let connections: Connection[] = [];
let deliveries: Delivery[] = [];
let shown = '';
let pollTimer: number | undefined;

const byId = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

/** A DOM element with attributes and children; text children are set as text, never parsed as HTML. */
function h(
  tag: string,
  attributes: Record<string, string | boolean | undefined> = {},
  ...children: Array<Node | string | null>
): HTMLElement {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === true) element.setAttribute(name, '');
    else if (typeof value === 'string') element.setAttribute(name, value);
  }
  for (const child of children) if (child !== null) element.append(child);
  return element;
}

function say(text: string, kind: 'info' | 'error' = 'info', link?: { href: string; text: string }): void {
  const message = byId('message');
  message.className = kind;
  message.replaceChildren(
    text,
    ...(link ? [' ', h('a', { href: link.href, target: '_blank' }, link.text)] : []),
  );
  message.hidden = false;
}

function describeError(error: unknown): string {
  if (error instanceof ApiError) return `${error.message} (${error.status} ${error.code})`;
  return error instanceof Error ? error.message : String(error);
}

/** Runs an action from a button; an expired token signs the user out instead of failing silently. */
async function attempt(what: string, action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      signOut();
      say('Your sign-in expired (or the local data was reset). Sign in again.', 'error');
      return;
    }
    say(`${what} failed: ${describeError(error)}`, 'error');
  }
}

// ---- time ----

const relative = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });

function ago(iso: string): string {
  const seconds = Math.round((Date.parse(iso) - Date.now()) / 1000);
  if (Math.abs(seconds) < 60) return relative.format(Math.min(seconds, 0), 'second');
  const minutes = Math.round(seconds / 60);
  if (Math.abs(minutes) < 60) return relative.format(minutes, 'minute');
  const hours = Math.round(minutes / 60);
  return Math.abs(hours) < 24 ? relative.format(hours, 'hour') : new Date(iso).toLocaleString();
}

/** A timestamp that stays current: `tick()` rewrites every one of them. */
const when = (label: string, iso: string) =>
  h('div', {}, `${label} `, h('time', { datetime: iso, title: iso }, ago(iso)));

function tick(): void {
  for (const time of Array.from(document.querySelectorAll('time[datetime]')))
    time.textContent = ago(time.getAttribute('datetime') ?? '');
}

// ---- opening Terra ----

/**
 * Terra's pages must open in a new tab (never an iframe). The tab is opened in the click's own turn,
 * which popup blockers allow, and only then pointed at the URL the API returns.
 */
async function openTerra(what: string, getUrl: () => Promise<string>): Promise<void> {
  const tab = window.open('', '_blank');
  // The provider's pages get no handle on this one (reverse tabnabbing).
  if (tab) tab.opener = null;
  await attempt(what, async () => {
    try {
      const url = await getUrl();
      if (tab) {
        tab.location.href = url;
        say('Terra opened in a new tab. This page updates by itself when you come back.');
      } else say('Your browser blocked the new tab:', 'info', { href: url, text: 'open it yourself' });
    } catch (error) {
      tab?.close();
      throw error;
    }
  });
}

const connectWithWidget = (only?: string) =>
  openTerra(
    'Opening the widget',
    async () => (await startWidgetSession(token(), only ? [only] : undefined)).url,
  );

const connectDirectly = (provider: string) =>
  openTerra(`Connecting ${provider}`, async () => {
    const created = await connectProvider(token(), provider);
    await refresh();
    return created.auth_url;
  });

function token(): string {
  if (!user) throw new Error('not signed in');
  return user.token;
}

// ---- rendering ----

const providerName = (id: string) => providers.find((provider) => provider.provider === id)?.name ?? id;

function icon(id: string): HTMLElement {
  const src = providers.find((provider) => provider.provider === id)?.icon;
  return src ? h('img', { src, alt: '', class: 'icon' }) : h('span', { class: 'icon blank' }, id.slice(0, 1));
}

function renderProviders(): void {
  byId('providers').replaceChildren(
    ...providers.map((provider) =>
      h(
        'li',
        {},
        h(
          'button',
          {
            type: 'button',
            class: provider.sdk_only ? 'provider sdk-only' : 'provider',
            'data-provider': provider.provider,
            disabled: provider.sdk_only,
            title: provider.sdk_only
              ? 'Connected from your mobile app with Terra’s SDK (POST /sdk-token), not from a web page'
              : `Data: ${provider.types.join(', ')}`,
          },
          icon(provider.provider),
          h(
            'span',
            {},
            provider.name,
            provider.sdk_only ? h('small', { class: 'badge' }, 'mobile SDK only') : null,
          ),
        ),
      ),
    ),
  );
}

/** Terra user ids are UUIDs; the first block is enough to tell them apart on screen. */
const short = (userId: string) => `${userId.slice(0, 8)}…`;

const changedLater = (connection: Connection) =>
  Date.parse(connection.updated_at) - Date.parse(connection.created_at) > 2_000;

function statusBadge(connection: Connection): HTMLElement {
  const text = NEEDS_RECONNECT.has(connection.status)
    ? `${connection.status}: needs reconnecting`
    : connection.status;
  return h('span', { class: `status status-${connection.status}` }, text);
}

function connectionRow(connection: Connection): HTMLElement {
  const live = !TERMINAL.has(connection.status);
  const notes = [
    connection.reason ? `reason: ${connection.reason}` : null,
    connection.replaced_by ? `replaced by ${short(connection.replaced_by)}` : null,
    connection.replaces ? `replaces ${short(connection.replaces)}` : null,
  ].filter((note): note is string => note !== null);
  return h(
    'tr',
    {
      'data-user-id': connection.user_id,
      'data-provider': connection.provider,
      'data-status': connection.status,
    },
    h(
      'td',
      {},
      h('div', { class: 'provider-cell' }, icon(connection.provider), providerName(connection.provider)),
      h('code', { class: 'muted' }, connection.user_id),
    ),
    h('td', {}, statusBadge(connection), ...notes.map((note) => h('div', { class: 'muted small' }, note))),
    h('td', {}, ...connection.scopes.map((scope) => h('span', { class: 'scope' }, scope))),
    h(
      'td',
      { class: 'small' },
      when('connected', connection.created_at),
      changedLater(connection) ? when('changed', connection.updated_at) : null,
      connection.last_webhook_update ? when('last data', connection.last_webhook_update) : null,
    ),
    h(
      'td',
      { class: 'actions' },
      // A pending connection has not reached the provider yet: nothing to reconnect.
      live && connection.status !== 'pending'
        ? h('button', { type: 'button', 'data-action': 'reconnect' }, 'Reconnect')
        : null,
      live ? h('button', { type: 'button', 'data-action': 'disconnect' }, 'Disconnect') : null,
    ),
  );
}

function renderConnections(): void {
  // Live ones first, then the history, newest change first within each.
  const sorted = [...connections].sort(
    (a, b) =>
      Number(TERMINAL.has(a.status)) - Number(TERMINAL.has(b.status)) ||
      b.updated_at.localeCompare(a.updated_at),
  );
  byId('connections')
    .querySelector('tbody')
    ?.replaceChildren(...sorted.map(connectionRow));
  byId('no-connections').hidden = connections.length > 0;
  byId('attention').replaceChildren(
    ...sorted
      .filter((connection) => NEEDS_RECONNECT.has(connection.status))
      .map((connection) =>
        h(
          'p',
          { class: 'attention', 'data-user-id': connection.user_id },
          `${providerName(connection.provider)} needs reconnecting (${connection.status}). `,
          h('button', { type: 'button', 'data-reconnect': connection.provider }, 'Reconnect'),
        ),
      ),
  );

  const select = byId<HTMLSelectElement>('sandbox-connection');
  const chosen = select.value;
  const options = sorted
    .filter((connection) => !TERMINAL.has(connection.status))
    .map((connection) =>
      h(
        'option',
        { value: connection.user_id, selected: connection.user_id === chosen },
        `${providerName(connection.provider)} · ${short(connection.user_id)} (${connection.status})`,
      ),
    );
  select.replaceChildren(
    ...(options.length ? options : [h('option', { value: '' }, 'connect something first')]),
  );
  for (const button of Array.from(byId('sandbox-events').querySelectorAll('button')))
    button.disabled = !options.length;
}

function renderDeliveries(): void {
  const mine = new Map(connections.map((connection) => [connection.user_id, connection.provider]));
  const rows = deliveries
    .slice(-12)
    .reverse()
    .map((delivery) => {
      const outcome =
        delivery.status === 'delivered'
          ? `delivered · ${delivery.last_status ?? ''}`
          : `${delivery.status} · attempt ${delivery.attempts}${delivery.last_status ? ` · ${delivery.last_status}` : ''}`;
      const who = delivery.user_id
        ? `${mine.has(delivery.user_id) ? providerName(mine.get(delivery.user_id) ?? '') : 'another user'} · ${short(delivery.user_id)}`
        : '—';
      return h(
        'tr',
        { 'data-type': delivery.type, 'data-status': delivery.status },
        h('td', { class: 'small' }, h('time', { datetime: delivery.created_at, title: delivery.created_at })),
        h('td', {}, h('code', {}, delivery.type)),
        h('td', { class: 'small' }, who),
        h('td', {}, h('span', { class: `outcome outcome-${delivery.status}` }, outcome)),
      );
    });
  const none = h('tr', {}, h('td', { colspan: '4', class: 'muted' }, 'No webhook deliveries yet.'));
  byId('deliveries')
    .querySelector('tbody')
    ?.replaceChildren(...(rows.length ? rows : [none]));
}

/** Re-renders only when something changed, so a button never disappears under the pointer. */
function render(): void {
  const next = JSON.stringify([connections, deliveries]);
  if (next !== shown) {
    shown = next;
    renderConnections();
    if (config.sandbox_url) renderDeliveries();
  }
  tick();
  byId('live').textContent = `· live, updated ${new Date().toLocaleTimeString()}`;
}

async function refresh(): Promise<void> {
  if (!user) return;
  const [mineNow, sent] = await Promise.all([
    listConnections(token()),
    config.sandbox_url ? recentDeliveries(config.sandbox_url).catch(() => deliveries) : Promise.resolve([]),
  ]);
  connections = mineNow;
  deliveries = sent;
  render();
}

// ---- signing in and out ----

async function showSignedIn(): Promise<void> {
  if (!user) return;
  byId('sign-in').hidden = true;
  byId('app').hidden = false;
  byId('who').hidden = false;
  byId('who-name').textContent = user.name;
  await attempt('Loading', async () => {
    providers = await listProviders(token());
    renderProviders();
    shown = '';
    await refresh();
  });
  window.clearInterval(pollTimer);
  pollTimer = window.setInterval(() => void attempt('Refreshing', refresh), POLL_MS);
}

function signOut(): void {
  user = null;
  localStorage.removeItem(STORAGE_KEY);
  window.clearInterval(pollTimer);
  byId('app').hidden = true;
  byId('who').hidden = true;
  byId('sign-in').hidden = false;
  byId('message').hidden = true;
}

async function signIn(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  const name = byId<HTMLInputElement>('user-name').value.trim();
  if (!name) return;
  await attempt('Signing in', async () => {
    user = { name, token: await devToken(name) };
    localStorage.setItem(STORAGE_KEY, JSON.stringify(user));
    byId('message').hidden = true;
    await showSignedIn();
  });
}

// ---- wiring ----

async function onClick(event: MouseEvent): Promise<void> {
  const target = event.target instanceof Element ? event.target.closest('button') : null;
  if (!target || target.disabled) return;
  const row = target.closest<HTMLElement>('tr[data-user-id]');
  const provider = target.dataset.provider ?? target.dataset.reconnect ?? row?.dataset.provider;
  if (target.id === 'connect-widget') await connectWithWidget();
  else if (target.id === 'sign-out') signOut();
  else if (target.classList.contains('provider') && provider) await connectDirectly(provider);
  else if ((target.dataset.action === 'reconnect' || target.dataset.reconnect) && provider)
    await connectWithWidget(provider);
  else if (target.dataset.action === 'disconnect' && row?.dataset.userId) {
    const userId = row.dataset.userId;
    await attempt('Disconnecting', async () => {
      await disconnect(token(), userId);
      say(`Disconnected ${providerName(provider ?? '')}.`);
      await refresh();
    });
  } else if (target.dataset.event && config.sandbox_url) {
    const sandboxUrl = config.sandbox_url;
    const userId = byId<HTMLSelectElement>('sandbox-connection').value;
    const type = target.dataset.event;
    await attempt('Sending the event', async () => {
      await fireEvent(sandboxUrl, userId, type);
      say(`The sandbox sent a ${type} webhook for ${short(userId)}.`);
    });
  }
}

async function main(): Promise<void> {
  config = (await (await fetch('/demo/config')).json()) as DemoConfig;
  byId('mode').textContent = config.sandbox_url ? 'Terra sandbox' : `real Terra · ${config.terra_api_url}`;
  if (config.sandbox_url) {
    byId('sandbox').hidden = false;
    byId('sandbox-events').replaceChildren(
      ...SANDBOX_EVENTS.map((event) =>
        h('button', { type: 'button', 'data-event': event.type }, event.label),
      ),
    );
  }
  byId<HTMLFormElement>('sign-in').addEventListener('submit', (event) => void signIn(event));
  document.addEventListener('click', (event) => void onClick(event));
  new BroadcastChannel(CHANNEL).addEventListener('message', () => void attempt('Refreshing', refresh));

  const saved = localStorage.getItem(STORAGE_KEY);
  user = saved ? (JSON.parse(saved) as { name: string; token: string }) : null;
  if (user) await showSignedIn();
  else signOut();
}

void main();
