import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { decide, demoSession, openTab, row, Screenshots, signIn } from './browser.ts';

/**
 * The demo page's "Your app receives" panel in chromium: the events the backend publishes (the local
 * feed, `GET /dev/events`), the history request on connect arriving as data, and the payload behind
 * each event, inline or through the claim check.
 */
const demo = demoSession();

const BACKFILL_TYPES = ['activity', 'daily', 'sleep', 'body'];

/** A row of the event feed. */
const feedRow = (page: Page, selector: string) => page.locator(`#events tbody tr${selector}`);

/** Connects GARMIN from the page's own button, approving as `account`. */
async function connectGarmin(page: Page, account: string): Promise<void> {
  const tab = await openTab(page, '#providers [data-provider="GARMIN"]');
  await decide(tab, 'approve', account);
  await tab.close();
  await row(page, 'GARMIN', 'active').waitFor();
}

describe('the event feed', () => {
  it('shows the connection, the history arriving as data, and a data event’s payload', async () => {
    const shots = new Screenshots('feed-history');
    const { context, page } = await signIn(demo.browser, demo.stack.apiUrl, 'frank');
    await page.locator('#no-events').waitFor();
    await connectGarmin(page, 'frank-garmin');
    const userId = await row(page, 'GARMIN', 'active').getAttribute('data-user-id');

    const active = feedRow(page, '[data-detail-type="terra.connection"][data-status="active"]');
    await active.waitFor();
    expect(await active.getAttribute('data-reference-id')).toBe('frank');
    expect(await active.textContent()).toContain('pending → active');
    expect(await active.textContent()).toContain('Garmin');
    await shots.take(page, 'connected');

    // The stack asks the sandbox for 30 days of each type; every payload is a terra.data marked history.
    for (const type of BACKFILL_TYPES) {
      const data = feedRow(
        page,
        `[data-detail-type="terra.data"][data-type="${type}"][data-backfill="true"]`,
      );
      await data.waitFor();
      expect(await data.locator('.tag-history').textContent()).toBe('history');
      expect(await data.locator('td.number').textContent()).toMatch(/^\d+(\.\d)? KB$/);
      expect(await data.getAttribute('data-inline')).toBe('true');
    }
    const history = row(page, 'GARMIN', 'active').locator('.history[data-history="complete"]');
    await history.waitFor();
    expect(await history.textContent()).toBe('History complete · 30 days');
    for (const type of BACKFILL_TYPES) {
      await feedRow(page, `[data-detail-type="terra.backfill"][data-status="complete"]`)
        .filter({ hasText: `${type} complete` })
        .waitFor();
    }
    // Newest first: the connection came before any of its data.
    const order = await page
      .locator('#events tbody tr')
      .evaluateAll((rows) => rows.map((element) => Number(element.getAttribute('data-seq'))));
    expect(order).toEqual([...order].sort((a, b) => b - a));
    // Only frank's events by default.
    expect(await page.locator('#events tbody tr:not([data-reference-id="frank"])').count()).toBe(0);
    await shots.take(page, 'history-complete');

    // Clicking a data row opens its payload, carried inline, and the envelope around it.
    const activity = feedRow(
      page,
      '[data-detail-type="terra.data"][data-type="activity"][data-backfill="true"]',
    );
    await activity.locator('td.number').click();
    const dialog = page.locator('#event-dialog');
    await dialog.waitFor();
    const payload = page.locator('#event-payload[data-state="ready"]');
    await payload.waitFor();
    expect(await payload.getAttribute('data-source')).toBe('inline');
    const json = JSON.parse((await payload.textContent()) ?? '') as {
      type: string;
      user: { user_id: string; reference_id: string };
      data: unknown[];
    };
    expect(json.type).toBe('activity');
    expect(json.user).toMatchObject({ user_id: userId, reference_id: 'frank' });
    expect(Array.isArray(json.data) && json.data.length).toBeGreaterThan(0);
    const envelope = JSON.parse((await page.locator('#event-envelope').textContent()) ?? '') as {
      source: string;
      'detail-type': string;
      detail: { backfill: boolean; type: string; archive: { key: string } };
    };
    expect(envelope).toMatchObject({
      source: 'terra-connect',
      'detail-type': 'terra.data',
      detail: { backfill: true, type: 'activity' },
    });
    expect(await page.locator('#event-summary').textContent()).toContain(envelope.detail.archive.key);
    await shots.take(page, 'payload', { fullPage: false });

    // Escape closes it and gives the focus back to the row; Enter on the row's button opens it again.
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    const button = activity.locator('button.event-open');
    expect(await button.evaluate((element) => element.matches(':focus'))).toBe(true);
    await page.keyboard.press('Enter');
    await dialog.waitFor();
    await page.click('#event-dialog-close');
    await dialog.waitFor({ state: 'hidden' });
    await context.close();
  }, 30_000);

  it('shows only the signed-in app user’s events until asked for every app user’s', async () => {
    const shots = new Screenshots('feed-all-users');
    const { context, page } = await signIn(demo.browser, demo.stack.apiUrl, 'grace');
    // Another app user's Terra user: its events are not grace's. (A Terra user no app user owns sends
    // nothing to the feed at all: its deliveries are parked until an owner is known, docs/decisions/0020.)
    const sandbox = demo.stack.sandbox?.url ?? '';
    const created = await fetch(`${sandbox}/sandbox/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ provider: 'OURA', reference_id: 'heidi' }),
    });
    expect(created.status).toBe(200);

    await page.locator('#feed-count', { hasText: 'for other app users hidden' }).waitFor();
    expect(await page.locator('#events tbody tr').count()).toBe(0);
    expect(await page.locator('#no-events').textContent()).toBe('No events for grace yet.');
    await shots.take(page, 'mine-only');

    await page.getByLabel('Show every app user’s events').check();
    const other = feedRow(page, '[data-reference-id="heidi"][data-detail-type="terra.data"]').first();
    await other.waitFor();
    expect(await other.locator('td').nth(2).textContent()).toBe('heidi');
    expect(await other.locator('td').nth(3).textContent()).toBe('Oura');
    await shots.take(page, 'every-user');

    await page.getByLabel('Show every app user’s events').uncheck();
    await page.locator('#no-events', { hasText: 'No events for grace yet.' }).waitFor();
    await context.close();
  }, 30_000);

  it('follows the history’s progress while Terra keeps refusing one of its requests', async () => {
    const shots = new Screenshots('feed-history-progress');
    const sandbox = demo.stack.sandbox;
    if (!sandbox) throw new Error('the test stack runs the sandbox');
    // Terra answers the sleep request 503 until told otherwise: the backend asks again later.
    sandbox.settings({ fault: { kind: 'status', status: 503, paths: ['/sleep'] } });
    try {
      const { context, page } = await signIn(demo.browser, demo.stack.apiUrl, 'ivan');
      await connectGarmin(page, 'ivan-garmin');
      const history = row(page, 'GARMIN', 'active').locator('.history');
      await history.filter({ hasText: 'asking for more' }).waitFor();
      expect(await history.getAttribute('data-history')).toBe('receiving');
      expect(await history.textContent()).toBe('History: 2/2 complete, asking for more · 30 days');
      await feedRow(
        page,
        '[data-detail-type="terra.data"][data-type="daily"][data-backfill="true"]',
      ).waitFor();
      expect(await feedRow(page, '[data-type="sleep"]').count()).toBe(0);
      await shots.take(page, 'receiving');

      sandbox.settings({ fault: undefined });
      await row(page, 'GARMIN', 'active')
        .locator('.history[data-history="complete"]')
        .waitFor({ timeout: 25_000 });
      await feedRow(
        page,
        '[data-detail-type="terra.data"][data-type="sleep"][data-backfill="true"]',
      ).waitFor();
      await shots.take(page, 'complete');
      await context.close();
    } finally {
      sandbox.settings({ fault: undefined });
    }
  }, 45_000);

  it('fetches a payload too large to travel inline through its claim check', async () => {
    const shots = new Screenshots('feed-claim-check');
    const { context, page } = await signIn(demo.browser, demo.stack.apiUrl, 'heidi');
    await connectGarmin(page, 'heidi-garmin');
    await row(page, 'GARMIN', 'active').locator('.history[data-history="complete"]').waitFor();

    // The sandbox pads the activity past its 1 MB threshold, as the README promises: Terra sends an
    // s3_payload link, which the webhook downloads; past EventBridge's 256 KB, it reaches the app by claim check.
    await page.click('#sandbox-events [data-event="activity"][data-bytes]');
    await page.locator('#deliveries tbody tr[data-type="s3_payload"][data-status="delivered"]').waitFor();
    const large = feedRow(
      page,
      '[data-detail-type="terra.data"][data-type="activity"][data-backfill="false"]',
    );
    await large.waitFor();
    expect(await large.getAttribute('data-inline')).toBe('false');
    expect(await large.textContent()).toContain('claim check');
    expect(await large.locator('td.number').textContent()).toMatch(/^1\.\d MB$/);
    await shots.take(page, 'large-event');

    await large.locator('button.event-open').click();
    const payload = page.locator('#event-payload[data-state="ready"]');
    await payload.waitFor();
    expect(await payload.getAttribute('data-source')).toBe('archive');
    expect(await page.locator('#event-payload-source').textContent()).toContain('GET /dev/events/payload');
    // Over 2 MB pretty-printed, the dialog shows the start and links to the whole payload.
    expect(await payload.textContent()).toContain('"type": "activity"');
    const whole = await payload.locator('a', { hasText: 'the whole payload' }).getAttribute('href');
    const json = (await (await fetch(new URL(whole ?? '', demo.stack.apiUrl))).json()) as {
      type: string;
      user: { reference_id: string };
      data: unknown[];
    };
    expect(json.type).toBe('activity');
    expect(json.user.reference_id).toBe('heidi');
    expect(json.data.length).toBeGreaterThan(0);
    // The envelope carries the pointer, not the payload.
    const envelope = JSON.parse((await page.locator('#event-envelope').textContent()) ?? '') as {
      detail: Record<string, unknown>;
    };
    expect(envelope.detail).not.toHaveProperty('data');
    expect(envelope.detail.archive).toMatchObject({ key: expect.stringMatching(/^users\//) });
    await shots.take(page, 'payload', { fullPage: false });
    await context.close();
  }, 30_000);
});
