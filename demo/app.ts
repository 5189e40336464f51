import {
  ApiError,
  apiFor,
  type Backfill,
  type Connection,
  type Deletion,
  deleteAccount,
  devToken,
  getDeletion,
  ok,
  type Provider,
} from './api.ts';
import { archivedPayload, type EventEnvelope, eventsAfter, type FeedEntry, payloadUrl } from './feed.ts';
import { withoutDeletedPeople } from './forget.ts';
import { type Delivery, fireEvent, recentDeliveries, SANDBOX_EVENTS } from './sandbox.ts';

/**
 * The demo page: sign in as a dev user, connect a wearable through Terra's widget or your own provider
 * buttons, watch the connection list follow the webhooks and the events your app receives, disconnect,
 * and delete the whole account (`DELETE /me`, then `GET /me/deletion` until it is done).
 * Every API call goes through the typed client (`client/`, via `api.ts`); the local event feed's calls are in
 * `feed.ts`, the sandbox's in `sandbox.ts`.
 */

interface DemoConfig {
  /** The Terra sandbox's URL, or null when the local API talks to real Terra. */
  sandbox_url: string | null;
  terra_api_url: string;
}

// Webhooks change connections behind the page's back; polling is the simplest way to follow them.
const POLL_MS = 2_000;
// The event feed answers only what is new (`after`), so it can be asked more often.
const FEED_POLL_MS = 1_000;
// A running deletion is followed this often (`GET /me/deletion`) until it is done.
const DELETION_POLL_MS = 1_000;
// As many as the local feed keeps; the table shows the newest of them.
const FEED_KEEP = 500;
const FEED_ROWS = 200;
// Longer payloads are cut in the dialog (a padded sandbox payload can be 50 MB); the link has them whole.
const SHOW_CHARS = 2_000_000;
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
/** The event feed as received, oldest first. */
let feed: FeedEntry[] = [];
/** Logins the result page (opened from this browser) reported cancelled: a hint only, never state. */
const cancelledLogins = new Set<string>();
let feedAll = false;
let feedTimer: number | undefined;
let feedBusy = false;
let feedFailed = false;
/** Terra user → provider, learned from the events (a backfill event names no provider). */
const providerOf = new Map<string, string>();
/** The event the dialog shows, and what had focus before it opened. */
let openSeq: number | undefined;
let opener: HTMLElement | null = null;
/** The account's deletion as last seen: the one started here, or one found running on sign-in. */
let deletion: Deletion | null = null;
/** `DELETE /me` is on its way (no answer yet). */
let deletionStarting = false;
/** When the running deletion should be done (epoch ms), from `DELETE /me`'s retry-after. */
let deletionDue: number | undefined;
let deletionTimer: number | undefined;

/** While the account is being deleted nothing new may be connected, reconnected or disconnected. */
const deleting = () => deletionStarting || deletion?.status === 'running';

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
  // The event feed shows clock times (`.clock`): many events land within the same second.
  for (const time of Array.from(document.querySelectorAll('time[datetime]:not(.clock)')))
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
    async () => ok(await api.POST('/sessions', { body: only ? { providers: [only] } : {} })).data.url,
  );

const connectDirectly = (provider: string) =>
  openTerra(`Connecting ${provider}`, async () => {
    const created = ok(await api.POST('/connections', { body: { provider } })).data;
    await refresh();
    return created.auth_url;
  });

function token(): string {
  if (!user) throw new Error('not signed in');
  return user.token;
}

/** Every API call goes through the typed client, as the signed-in user. */
const api = apiFor(token);

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
            disabled: provider.sdk_only || deleting(),
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

const DAY_MS = 86_400_000;

/** The history request on connect, in one line: "History: receiving 2/4", "History complete". */
function historyNote(backfill: Backfill | undefined): HTMLElement | null {
  if (!backfill) return null;
  const done = backfill.requests.filter((request) => request.status === 'complete').length;
  const total = backfill.requests.length;
  // The summary lists the requests made so far: all of them complete, yet not done, means more to ask.
  const text =
    backfill.status === 'complete'
      ? 'History complete'
      : backfill.status === 'failed'
        ? `History failed (${done}/${total} complete)`
        : total > 0 && done === total
          ? `History: ${done}/${total} complete, asking for more`
          : backfill.status === 'receiving'
            ? `History: receiving ${done}/${total}`
            : 'History: requested';
  const days = Math.round((Date.parse(backfill.to) - Date.parse(backfill.from)) / DAY_MS);
  const perType = backfill.requests
    .map((request) => {
      const count =
        request.expected === null ? `${request.received}` : `${request.received}/${request.expected}`;
      return `${request.type ?? 'unknown'}: ${request.status} (${count} payloads)`;
    })
    .join('\n');
  return h(
    'div',
    {
      class: `history history-${backfill.status} small`,
      'data-history': backfill.status,
      title: `Terra's data from ${backfill.from} to ${backfill.to}\n${perType}`,
    },
    text,
    Number.isFinite(days) ? h('span', { class: 'muted' }, ` · ${days} days`) : null,
  );
}

/**
 * A pending connection is a login started here that Terra has not confirmed. A cancel at the provider
 * leaves it so (Terra's `auth_cancelled` names no user, and the redirect can be forged, so the backend
 * records nothing from either); only the result page, in this browser, tells us it was cancelled.
 */
function pendingNote(connection: Connection): HTMLElement {
  const provider = providerName(connection.provider);
  const cancelled = cancelledLogins.has(connection.user_id);
  return h(
    'div',
    { class: 'pending-note small', 'data-login': cancelled ? 'cancelled' : 'waiting' },
    cancelled
      ? `You cancelled the login at ${provider}, so nothing was connected. Connect again when you want it, or Disconnect to clear this line.`
      : `Waiting for you to sign in at ${provider} in the tab Terra opened. Closed it or cancelled? Connect again, or Disconnect to clear this line.`,
  );
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
    h(
      'td',
      {},
      statusBadge(connection),
      ...notes.map((note) => h('div', { class: 'muted small' }, note)),
      connection.status === 'pending' ? pendingNote(connection) : null,
      historyNote(connection.backfill),
    ),
    h('td', {}, ...connection.scopes.map((scope) => h('span', { class: 'scope' }, scope))),
    h(
      'td',
      { class: 'small' },
      when(connection.status === 'pending' ? 'started' : 'connected', connection.created_at),
      changedLater(connection) ? when('changed', connection.updated_at) : null,
      connection.last_webhook_update ? when('last data', connection.last_webhook_update) : null,
    ),
    h(
      'td',
      { class: 'actions' },
      // A pending connection has not reached the provider yet: nothing to reconnect.
      live && !deleting() && connection.status !== 'pending'
        ? h('button', { type: 'button', 'data-action': 'reconnect' }, 'Reconnect')
        : null,
      live && !deleting() ? h('button', { type: 'button', 'data-action': 'disconnect' }, 'Disconnect') : null,
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
          deleting()
            ? null
            : h('button', { type: 'button', 'data-reconnect': connection.provider }, 'Reconnect'),
        ),
      ),
  );

  const select = byId<HTMLSelectElement>('sandbox-connection');
  const chosen = select.value;
  // Terra has a user only behind a confirmed login: never a pending one (cancelled, or not finished).
  const options = sorted
    .filter((connection) => !TERMINAL.has(connection.status) && connection.status !== 'pending')
    .sort((a, b) => Number(b.status === 'active') - Number(a.status === 'active'))
    .map((connection) =>
      h(
        'option',
        { value: connection.user_id, selected: connection.user_id === chosen },
        `${providerName(connection.provider)} · ${short(connection.user_id)} (${connection.status})`,
      ),
    );
  select.replaceChildren(
    ...(options.length ? options : [h('option', { value: '' }, 'no live connection: connect one first')]),
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
  const next = JSON.stringify([connections, deliveries, deleting()]);
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
    api.GET('/connections').then((result) => ok(result).data.connections),
    config.sandbox_url ? recentDeliveries(config.sandbox_url).catch(() => deliveries) : Promise.resolve([]),
  ]);
  connections = mineNow;
  deliveries = sent;
  render();
}

// ---- the events your app receives ----

/** The app user an event is about (every detail names one; null when nothing has yet). */
function referenceOf(envelope: EventEnvelope): string | null {
  const detail = envelope.detail as { reference_id?: unknown };
  return typeof detail.reference_id === 'string' ? detail.reference_id : null;
}

const mineOnly = (entry: FeedEntry) => feedAll || referenceOf(entry.envelope) === user?.name;

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** Clock time, with the date when it is not today. */
function clock(iso: string): string {
  const date = new Date(iso);
  return date.toDateString() === new Date().toDateString()
    ? date.toLocaleTimeString()
    : date.toLocaleString();
}

/** The line after the detail type: what this event says. */
function eventSummary(envelope: EventEnvelope): string {
  switch (envelope['detail-type']) {
    case 'terra.data':
      return envelope.detail.type;
    case 'terra.connection': {
      const { status, previous_status } = envelope.detail;
      return previous_status ? `${previous_status} → ${status}` : status;
    }
    case 'terra.backfill': {
      const { type, status, received, expected } = envelope.detail;
      return `${type} ${status} · ${received}/${expected ?? '?'}`;
    }
    case 'terra.user_deleted': {
      const count = envelope.detail.user_ids.length;
      return `${count} Terra user${count === 1 ? '' : 's'}`;
    }
    default:
      return '';
  }
}

function eventProvider(envelope: EventEnvelope): string | null {
  const detail = envelope.detail as { provider?: unknown; user_id?: unknown };
  if (typeof detail.provider === 'string') return detail.provider;
  return typeof detail.user_id === 'string' ? (providerOf.get(detail.user_id) ?? null) : null;
}

function eventRow(entry: FeedEntry): HTMLElement {
  const { envelope } = entry;
  const data = envelope['detail-type'] === 'terra.data' ? envelope.detail : undefined;
  const status =
    envelope['detail-type'] === 'terra.connection' || envelope['detail-type'] === 'terra.backfill'
      ? envelope.detail.status
      : undefined;
  const reference = referenceOf(envelope);
  const provider = eventProvider(envelope);
  const summary = eventSummary(envelope);
  const inline = data ? data.data !== undefined : undefined;
  return h(
    'tr',
    {
      'data-seq': String(entry.seq),
      'data-detail-type': envelope['detail-type'],
      'data-type': data?.type,
      'data-status': status,
      'data-backfill': data ? String(data.backfill) : undefined,
      'data-inline': inline === undefined ? undefined : String(inline),
      'data-reference-id': reference ?? undefined,
    },
    h(
      'td',
      { class: 'small nowrap' },
      h('time', { class: 'clock', datetime: envelope.time, title: envelope.time }, clock(envelope.time)),
    ),
    h(
      'td',
      {},
      h(
        'button',
        {
          type: 'button',
          class: 'link event-open',
          'aria-haspopup': 'dialog',
          title: 'Show the payload and the envelope',
        },
        h('code', {}, envelope['detail-type']),
        summary ? ` · ${summary}` : null,
      ),
      data?.backfill
        ? h('span', { class: 'tag tag-history', title: 'Answers the history request on connect' }, 'history')
        : null,
      inline === false
        ? h(
            'span',
            { class: 'tag', title: 'Over 256 KB: the event carries only the archive key' },
            'claim check',
          )
        : null,
    ),
    h(
      'td',
      { class: 'small' },
      reference === null
        ? h('span', { class: 'muted', title: 'No app user is known for this Terra user' }, 'unknown')
        : reference,
      reference !== null && reference === user?.name ? h('span', { class: 'muted' }, ' (you)') : null,
    ),
    h('td', { class: 'small' }, provider ? providerName(provider) : h('span', { class: 'muted' }, '—')),
    h('td', { class: 'small number' }, data ? formatBytes(data.bytes) : h('span', { class: 'muted' }, '—')),
  );
}

function renderFeedStatus(): void {
  const shown = byId('events').querySelector('tbody')?.rows.length ?? 0;
  const matching = feed.filter(mineOnly).length;
  const hidden = feed.length - matching;
  const name = user?.name ?? '';
  const count = feedAll
    ? `${feed.length} event${feed.length === 1 ? '' : 's'}`
    : `${matching} for ${name}${hidden ? ` · ${hidden} for other app users hidden` : ''}`;
  // A live region: written only when it says something new, or a screen reader repeats it every second.
  const counted = `${count}${matching > shown ? ` · newest ${shown} shown` : ''}`;
  if (byId('feed-count').textContent !== counted) byId('feed-count').textContent = counted;
  const none = byId('no-events');
  none.hidden = shown > 0;
  none.textContent = feedAll || hidden === 0 ? 'No events yet.' : `No events for ${name} yet.`;
  byId('feed-live').textContent = feedFailed
    ? '· the feed is not answering; retrying'
    : `· live, updated ${new Date().toLocaleTimeString()}`;
}

/** The whole table again: on sign-in, on the toggle, after the feed restarted. */
function renderFeed(): void {
  byId('events')
    .querySelector('tbody')
    ?.replaceChildren(...feed.filter(mineOnly).slice(-FEED_ROWS).reverse().map(eventRow));
  renderFeedStatus();
}

/** New events on top, the rest left as they are (a focused row keeps its focus). */
function addFeedRows(fresh: FeedEntry[]): void {
  const body = byId('events').querySelector('tbody');
  if (!body) return;
  body.prepend(...fresh.filter(mineOnly).reverse().map(eventRow));
  while (body.rows.length > FEED_ROWS) body.lastElementChild?.remove();
  renderFeedStatus();
}

function learn(entries: FeedEntry[]): void {
  for (const { envelope } of entries) {
    const detail = envelope.detail as { provider?: unknown; user_id?: unknown };
    if (typeof detail.provider === 'string' && typeof detail.user_id === 'string')
      providerOf.set(detail.user_id, detail.provider);
  }
}

/**
 * Asks for what follows the last event seen, that one included: when it is missing or different, the
 * local server restarted (its feed lives in memory) and the page starts over from the beginning.
 */
async function pollFeed(): Promise<void> {
  if (feedBusy || !user) return;
  feedBusy = true;
  try {
    const last = feed.at(-1);
    const entries = await eventsAfter(last ? last.seq - 1 : 0);
    const first = entries[0];
    const restarted =
      last !== undefined && (!first || (first.seq === last.seq && first.envelope.id !== last.envelope.id));
    feedFailed = false;
    if (restarted) {
      feed = withoutDeletedPeople(await eventsAfter(0));
      learn(feed);
      renderFeed();
      return;
    }
    const fresh = last && first?.seq === last.seq ? entries.slice(1) : entries;
    learn(fresh);
    feed.push(...fresh);
    if (feed.length > FEED_KEEP) feed = feed.slice(-FEED_KEEP);
    // On terra.user_deleted the app deletes its own copies of that person's events: so does this page.
    const deletion = fresh.some(({ envelope }) => envelope['detail-type'] === 'terra.user_deleted');
    if (deletion) feed = withoutDeletedPeople(feed);
    if (last === undefined || deletion) renderFeed();
    else addFeedRows(fresh);
  } catch {
    feedFailed = true;
    renderFeedStatus();
  } finally {
    feedBusy = false;
    renderDeletionEvent();
  }
}

function startFeed(): void {
  window.clearInterval(feedTimer);
  renderFeed();
  void pollFeed();
  feedTimer = window.setInterval(() => void pollFeed(), FEED_POLL_MS);
}

// ---- one event, in a dialog ----

/** Pretty JSON when it parses, cut at SHOW_CHARS; `whole` links to the rest. */
function showJson(pre: HTMLElement, value: unknown, whole?: string): void {
  const text = typeof value === 'string' ? value : (JSON.stringify(value, null, 2) ?? String(value));
  if (text.length <= SHOW_CHARS) {
    pre.textContent = text;
    return;
  }
  pre.replaceChildren(
    text.slice(0, SHOW_CHARS),
    h(
      'span',
      { class: 'muted' },
      `\n… ${formatBytes(text.length - SHOW_CHARS)} more`,
      whole ? ' · ' : '',
      whole ? h('a', { href: whole, target: '_blank' }, 'the whole payload') : null,
    ),
  );
}

function pretty(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function summaryList(envelope: EventEnvelope): Array<[string, Node | string]> {
  const detail = envelope.detail as unknown as Record<string, unknown>;
  const reference = referenceOf(envelope);
  const provider = eventProvider(envelope);
  const rows: Array<[string, Node | string]> = [
    ['App user', reference ?? 'unknown'],
    ['Provider', provider ? providerName(provider) : '—'],
  ];
  if (envelope['detail-type'] === 'terra.data') {
    const { received_at } = envelope.detail;
    rows.push(['Webhook received', `${clock(received_at)} (${received_at})`]);
  }
  rows.push(
    ['Published', `${clock(envelope.time)} (${envelope.time})`],
    ['detail.id', h('code', {}, String(detail.id ?? ''))],
  );
  if (typeof detail.user_id === 'string') rows.push(['Terra user', h('code', {}, detail.user_id)]);
  if (envelope['detail-type'] === 'terra.user_deleted') {
    const { deletion_id, user_ids, deleted_at } = envelope.detail;
    rows.push(
      ['Deleted', `${clock(deleted_at)} (${deleted_at})`],
      ['Deletion', h('code', {}, deletion_id)],
      [
        'Terra users',
        user_ids.length
          ? h(
              'div',
              {},
              ...user_ids.map((id) => {
                const provider = providerOf.get(id);
                return h('div', {}, provider ? `${providerName(provider)} · ` : '', h('code', {}, id));
              }),
            )
          : 'none',
      ],
    );
  }
  if (envelope['detail-type'] === 'terra.data') {
    const data = envelope.detail;
    rows.push(
      ['Size', `${formatBytes(data.bytes)} (${data.bytes} bytes)`],
      ['History', data.backfill ? 'yes: answers the history request on connect' : 'no'],
      ['Archive key', h('code', {}, data.archive.key)],
    );
  }
  return rows;
}

async function openEvent(seq: number, from: HTMLElement | null): Promise<void> {
  const entry = feed.find((candidate) => candidate.seq === seq);
  if (!entry) return;
  const { envelope } = entry;
  const dialog = byId<HTMLDialogElement>('event-dialog');
  openSeq = seq;
  opener = from;
  const summary = eventSummary(envelope);
  byId('event-dialog-title').replaceChildren(
    h('code', {}, envelope['detail-type']),
    summary ? ` · ${summary}` : '',
  );
  byId('event-summary').replaceChildren(
    ...summaryList(envelope).flatMap(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]),
  );

  const data = envelope['detail-type'] === 'terra.data' ? envelope.detail : undefined;
  const payload = byId('event-payload');
  const source = byId('event-payload-source');
  byId('event-payload-section').hidden = !data;
  const note = byId('event-envelope-note');
  note.hidden = true;
  if (data && data.data !== undefined) {
    // Shown once: the envelope's copy of the payload is shortened to a pointer to the one above.
    source.replaceChildren(
      'Inline in ',
      h('code', {}, 'detail.data'),
      ': the event fits EventBridge’s 256 KB.',
    );
    payload.dataset.state = 'ready';
    payload.dataset.source = 'inline';
    showJson(payload, data.data);
    const shortened = { ...envelope, detail: { ...data, data: '(the payload above)' } };
    showJson(byId('event-envelope'), shortened);
    note.textContent = 'As EventBridge delivers it; detail.data is shortened here to the payload above.';
    note.hidden = false;
  } else {
    showJson(byId('event-envelope'), envelope);
  }
  if (!dialog.open) dialog.showModal();

  if (data && data.data === undefined) {
    const url = payloadUrl(data.archive.key);
    source.replaceChildren(
      'Not inline (over EventBridge’s 256 KB): the event carries the claim check ',
      h('code', {}, 'detail.archive'),
      ', fetched from the archive at ',
      h('a', { href: url, target: '_blank' }, h('code', {}, 'GET /dev/events/payload')),
      ' (S3 GetObject in AWS).',
    );
    payload.dataset.source = 'archive';
    payload.dataset.state = 'loading';
    payload.textContent = 'Loading the payload from the archive…';
    dialog.setAttribute('aria-busy', 'true');
    try {
      const text = await archivedPayload(data.archive.key);
      if (openSeq !== seq) return;
      payload.dataset.state = 'ready';
      showJson(payload, pretty(text), url);
    } catch (error) {
      if (openSeq !== seq) return;
      payload.dataset.state = 'error';
      payload.textContent = `Could not fetch the payload: ${describeError(error)}`;
    } finally {
      if (openSeq === seq) dialog.removeAttribute('aria-busy');
    }
  }
}

function closedEvent(): void {
  // Back to where the reader was: the row's button, even if the table was redrawn meanwhile.
  const again =
    opener?.isConnected === true
      ? opener
      : document.querySelector<HTMLElement>(`#events tr[data-seq="${openSeq}"] .event-open`);
  openSeq = undefined;
  opener = null;
  again?.focus();
}

// ---- deleting the account ----

const plural = (count: number, one: string, many = `${one}s`) => `${count} ${count === 1 ? one : many}`;

/** "Delete my account" asks first, saying what goes: the deletion starts only from the dialog. */
function confirmDeletion(): void {
  const dialog = byId<HTMLDialogElement>('delete-dialog');
  byId('delete-dialog-who').textContent = user?.name ?? '';
  const names = [...new Set(connections.map((connection) => providerName(connection.provider)))];
  byId('delete-dialog-connections').textContent = connections.length
    ? `Your ${plural(connections.length, 'connection')} (${names.join(', ')}): each deauthenticated at Terra and removed here.`
    : 'Every connection, at Terra and here (you have none right now).';
  dialog.returnValue = '';
  // Cancel has the focus (autofocus): Enter or Escape right away keeps the account.
  dialog.showModal();
}

function closedDeletionDialog(): void {
  if (byId<HTMLDialogElement>('delete-dialog').returnValue === 'delete') void startDeletion();
  else byId('delete-account').focus();
}

async function startDeletion(): Promise<void> {
  deletion = null;
  deletionDue = undefined;
  deletionStarting = true;
  // What the page said before (e.g. "Terra opened in a new tab") is over; a failure says so afresh.
  byId('message').hidden = true;
  renderDeletion();
  // The panel says what is happening; a screen reader hears its live status line too.
  byId('deletion').focus();
  await attempt('Deleting your account', async () => {
    try {
      const started = await deleteAccount(api);
      if (started.status === 'running') {
        deletionDue = Date.now() + started.retryAfter * 1000;
        showDeletion(started.deletion);
      } else showDeletion(await getDeletion(api));
    } finally {
      deletionStarting = false;
    }
  });
  if (!user) return;
  if (!deletion) {
    // It failed (the message says why): nothing is shown, the button is back.
    renderDeletion();
    byId('delete-account').focus();
    return;
  }
  await attempt('Refreshing', refresh);
}

/** Shows the deletion as it stands, and follows it while it runs. */
function showDeletion(next: Deletion | null): void {
  const finished = deletion?.status === 'running' && next?.status === 'done';
  deletion = next;
  renderDeletion();
  window.clearTimeout(deletionTimer);
  if (next?.status === 'running')
    deletionTimer = window.setTimeout(
      () => void attempt('Following the deletion', followDeletion),
      DELETION_POLL_MS,
    );
  if (finished) {
    // Everything is gone: the list is empty now, and the app's terra.user_deleted is on its way.
    void attempt('Refreshing', refresh);
    void pollFeed();
  }
}

async function followDeletion(): Promise<void> {
  if (!user || deletion?.status !== 'running') return;
  const running = deletion;
  try {
    showDeletion(await getDeletion(api));
  } catch (error) {
    // Keep following: a failed poll is reported, the next one may answer.
    if (deletion === running) showDeletion(running);
    throw error;
  }
}

function renderDeletion(): void {
  const state = deletion?.status ?? (deletionStarting ? 'starting' : undefined);
  byId<HTMLButtonElement>('delete-account').disabled = deleting();
  for (const button of Array.from(byId('connect').querySelectorAll('button')))
    button.disabled = deleting() || button.classList.contains('sdk-only');
  if (user) render();

  // A live region: written only when it says something new.
  const status =
    deletion?.status === 'done'
      ? `Your account was deleted: ${plural(deletion.connections, 'connection')}, ${plural(deletion.deliveries, 'webhook delivery', 'webhook deliveries')} and ${plural(deletion.payloads, 'archived payload')} removed.`
      : state
        ? 'Deleting your account…'
        : '';
  if (byId('deletion-status').textContent !== status) byId('deletion-status').textContent = status;

  const panel = byId('deletion');
  panel.hidden = state === undefined;
  if (state === undefined) return;
  panel.dataset.status = state;
  const done = state === 'done';
  byId('deletion-title').textContent = done ? 'Your account was deleted' : 'Deleting your account…';
  byId('deletion-progress').hidden = done;
  const at = (iso: string) => h('time', { class: 'clock', datetime: iso, title: iso }, clock(iso));
  byId('deletion-note').replaceChildren(
    ...(!deletion
      ? ['Asking the backend: ', h('code', {}, 'DELETE /me'), '…']
      : done
        ? [
            'Started ',
            at(deletion.started_at),
            ...(deletion.finished_at ? [', finished ', at(deletion.finished_at)] : []),
            '. Nothing of yours is left at Terra or here.',
          ]
        : [
            'Deauthenticating your connections at Terra, removing them here and deleting the health data received for you. ',
            'A last sweep catches data still arriving',
            ...(deletionDue ? [' at about ', at(new Date(deletionDue).toISOString())] : []),
            '. Following ',
            h('code', {}, 'GET /me/deletion'),
            '.',
          ]),
  );
  byId('deletion-counts').replaceChildren(
    ...(deletion
      ? (
          [
            ['connections', done ? 'Connections removed' : 'Connections', deletion.connections],
            [
              'deliveries',
              done ? 'Webhook deliveries deleted' : 'Deliveries deleted so far',
              deletion.deliveries,
            ],
            ['payloads', done ? 'Archived payloads deleted' : 'Payloads deleted so far', deletion.payloads],
          ] as const
        ).flatMap(([name, term, count]) => [
          h('dt', {}, term),
          h('dd', { 'data-count': name }, String(count)),
        ])
      : []),
  );
  renderDeletionEvent();
}

/** Once done: the `terra.user_deleted` your app received for it, from the feed, one click from its envelope. */
function renderDeletionEvent(): void {
  const line = byId('deletion-event');
  const done = deletion?.status === 'done' ? deletion : undefined;
  const entry = done
    ? feed.find(
        ({ envelope }) =>
          envelope['detail-type'] === 'terra.user_deleted' &&
          envelope.detail.deletion_id === done.deletion_id,
      )
    : undefined;
  const state = !done ? '' : entry ? `seq-${entry.seq}` : 'waiting';
  // Rebuilt only when it changes, so its button keeps the focus.
  if (line.dataset.state === state) return;
  line.dataset.state = state;
  line.replaceChildren(
    ...(!done
      ? []
      : entry
        ? [
            'Your app received ',
            h('code', {}, 'terra.user_deleted'),
            ' and deleted its copies of your events (only this one is left). ',
            h(
              'button',
              {
                type: 'button',
                id: 'deletion-event-open',
                class: 'link',
                'data-seq': String(entry.seq),
                'aria-haspopup': 'dialog',
              },
              'Show the event',
            ),
          ]
        : [
            h('span', { class: 'muted' }, 'Waiting for your app to receive '),
            h('code', {}, 'terra.user_deleted'),
            '…',
          ]),
  );
}

// ---- signing in and out ----

async function showSignedIn(): Promise<void> {
  if (!user) return;
  byId('sign-in').hidden = true;
  byId('app').hidden = false;
  byId('who').hidden = false;
  byId('who-name').textContent = user.name;
  await attempt('Loading', async () => {
    providers = ok(await api.GET('/providers')).data.providers;
    renderProviders();
    shown = '';
    await refresh();
    // A deletion still running (started before a reload, or in another tab) is followed again.
    const latest = await getDeletion(api);
    if (latest?.status === 'running') showDeletion(latest);
  });
  window.clearInterval(pollTimer);
  pollTimer = window.setInterval(() => void attempt('Refreshing', refresh), POLL_MS);
  startFeed();
}

function signOut(): void {
  user = null;
  localStorage.removeItem(STORAGE_KEY);
  window.clearInterval(pollTimer);
  window.clearInterval(feedTimer);
  window.clearTimeout(deletionTimer);
  deletion = null;
  deletionStarting = false;
  deletionDue = undefined;
  renderDeletion();
  for (const id of ['event-dialog', 'delete-dialog']) {
    const dialog = byId<HTMLDialogElement>(id);
    if (dialog.open) {
      dialog.returnValue = '';
      dialog.close();
    }
  }
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
  // A feed row opens its event, wherever it is clicked (its button is the keyboard's way in).
  const eventRow =
    event.target instanceof Element ? event.target.closest<HTMLElement>('#events tr[data-seq]') : null;
  if (eventRow) {
    await openEvent(Number(eventRow.dataset.seq), eventRow.querySelector<HTMLElement>('.event-open'));
    return;
  }
  const target = event.target instanceof Element ? event.target.closest('button') : null;
  if (!target || target.disabled) return;
  const row = target.closest<HTMLElement>('tr[data-user-id]');
  const provider = target.dataset.provider ?? target.dataset.reconnect ?? row?.dataset.provider;
  if (target.id === 'connect-widget') await connectWithWidget();
  else if (target.id === 'sign-out') signOut();
  else if (target.id === 'delete-account') confirmDeletion();
  else if (target.id === 'deletion-event-open') await openEvent(Number(target.dataset.seq), target);
  else if (target.classList.contains('provider') && provider) await connectDirectly(provider);
  else if ((target.dataset.action === 'reconnect' || target.dataset.reconnect) && provider)
    await connectWithWidget(provider);
  else if (target.dataset.action === 'disconnect' && row?.dataset.userId) {
    const userId = row.dataset.userId;
    await attempt('Disconnecting', async () => {
      ok(await api.DELETE('/connections/{user_id}', { params: { path: { user_id: userId } } }));
      say(`Disconnected ${providerName(provider ?? '')}.`);
      await refresh();
    });
  } else if (target.dataset.event && config.sandbox_url) {
    const sandboxUrl = config.sandbox_url;
    const userId = byId<HTMLSelectElement>('sandbox-connection').value;
    const type = target.dataset.event;
    const bytes = target.dataset.bytes ? Number(target.dataset.bytes) : undefined;
    await attempt('Sending the event', async () => {
      await fireEvent(sandboxUrl, userId, type, bytes);
      say(
        `The sandbox sent ${bytes ? `a ${formatBytes(bytes)} ` : 'a '}${type} webhook for ${short(userId)}.`,
      );
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
        h(
          'button',
          {
            type: 'button',
            'data-event': event.type,
            'data-bytes': 'bytes' in event ? String(event.bytes) : undefined,
          },
          event.label,
        ),
      ),
    );
  }
  byId<HTMLFormElement>('sign-in').addEventListener('submit', (event) => void signIn(event));
  document.addEventListener('click', (event) => void onClick(event));
  byId<HTMLInputElement>('feed-all').addEventListener('change', (event) => {
    feedAll = (event.target as HTMLInputElement).checked;
    renderFeed();
  });
  byId('event-dialog').addEventListener('close', closedEvent);
  byId('delete-dialog').addEventListener('close', closedDeletionDialog);
  // A click on the backdrop (the dialog element itself, outside its content box) closes it; for the
  // deletion's dialog that is a cancel (its returnValue stays empty).
  for (const dialog of [byId<HTMLDialogElement>('event-dialog'), byId<HTMLDialogElement>('delete-dialog')]) {
    dialog.addEventListener('click', (event) => {
      if (event.target !== dialog) return;
      const box = dialog.getBoundingClientRect();
      const inside =
        event.clientX >= box.left &&
        event.clientX <= box.right &&
        event.clientY >= box.top &&
        event.clientY <= box.bottom;
      if (!inside) dialog.close();
    });
  }
  new BroadcastChannel(CHANNEL).addEventListener('message', (event: MessageEvent) => {
    const result = event.data as { status?: unknown; user_id?: unknown } | null;
    if (result?.status === 'cancelled' && typeof result.user_id === 'string') {
      cancelledLogins.add(result.user_id);
      shown = '';
    }
    void attempt('Refreshing', refresh);
    void pollFeed();
  });

  const saved = localStorage.getItem(STORAGE_KEY);
  user = saved ? (JSON.parse(saved) as { name: string; token: string }) : null;
  if (user) await showSignedIn();
  else signOut();
}

void main();
