import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { settle } from '../helpers/events.ts';
import { AppUser } from '../helpers/local-stack.ts';
import { decide, demoSession, openTab, row, Screenshots, signIn } from './browser.ts';

/**
 * The demo page's "Delete my account" in chromium: confirmed in a dialog, `DELETE /me`, followed on
 * `GET /me/deletion` until done; then nothing of the person is left, at Terra (the sandbox) or here.
 * A 2 s grace before the last sweep (15 s by default) keeps the wait short.
 */
const demo = demoSession({ env: { DELETION_GRACE_SECONDS: '2' } });

/** Connects `provider` from the page's own button and waits for its history; answers the Terra user id. */
async function connect(page: Page, provider: string, account: string): Promise<string> {
  const tab = await openTab(page, `#providers [data-provider="${provider}"]`);
  await decide(tab, 'approve', account);
  await tab.close();
  const active = row(page, provider, 'active');
  await active.locator('.history[data-history="complete"]').waitFor({ timeout: 20_000 });
  return (await active.getAttribute('data-user-id')) ?? '';
}

/** The files the archive holds under `users/<user_id>/`. */
function archived(user_id: string): string[] {
  const dir = join(demo.stack.archiveDir, 'users', user_id);
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

/** The id of what has the focus. */
const focused = (page: Page) => page.locator(':focus').getAttribute('id');
const count = async (page: Page, name: string) =>
  Number(await page.locator(`#deletion-counts dd[data-count="${name}"]`).textContent());

describe('deleting the account', () => {
  it('confirms first, deletes two connections and their history everywhere, and says so', async () => {
    const shots = new Screenshots('delete-account');
    const name = 'judy';
    const { context, page } = await signIn(demo.browser, demo.stack.apiUrl, name);
    const garmin = await connect(page, 'GARMIN', 'judy-garmin');
    const oura = await connect(page, 'OURA', 'judy-oura');
    expect(archived(garmin).length).toBeGreaterThan(0);
    expect(archived(oura).length).toBeGreaterThan(0);
    await shots.take(page, 'connected');

    // From the keyboard: the dialog opens on Cancel, Escape keeps everything and gives the focus back.
    await page.locator('#delete-account').focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('alertdialog', { name: 'Delete your account?' });
    await dialog.waitFor();
    expect(await focused(page)).toBe('delete-cancel');
    const what = (await page.locator('#delete-dialog-what').textContent()) ?? '';
    expect(what).toContain(`This deletes ${name} everywhere, and cannot be undone`);
    expect(what).toMatch(/Your 2 connections \((Garmin, Oura|Oura, Garmin)\)/);
    expect(what).toContain('deauthenticated at Terra and removed here');
    expect(what).toContain('All the health data received for you');
    await shots.take(page, 'confirm', { fullPage: false });
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    expect(await focused(page)).toBe('delete-account');
    expect(await page.locator('#deletion').isHidden()).toBe(true);
    expect(await row(page, 'GARMIN', 'active').count()).toBe(1);
    expect(await row(page, 'OURA', 'active').count()).toBe(1);

    // Confirmed: DELETE /me answers 202, the page follows the deletion through its grace period.
    await page.click('#delete-account');
    await dialog.getByRole('button', { name: 'Yes, delete my account' }).click();
    const panel = page.locator('#deletion');
    await page.locator('#deletion[data-status="running"]').waitFor();
    expect(await focused(page)).toBe('deletion');
    expect(await page.locator('#deletion-title').textContent()).toBe('Deleting your account…');
    expect(await page.locator('#deletion-progress').isVisible()).toBe(true);
    expect(await page.locator('#delete-account').isDisabled()).toBe(true);
    expect(await page.locator('#connect-widget').isDisabled()).toBe(true);
    expect(await page.locator('#providers [data-provider="GARMIN"]').isDisabled()).toBe(true);
    await shots.take(page, 'running');

    await page.locator('#deletion[data-status="done"]').waitFor({ timeout: 15_000 });
    expect(await page.locator('#deletion-title').textContent()).toBe('Your account was deleted');
    expect(await page.locator('#deletion-progress').isHidden()).toBe(true);
    const counts = {
      connections: await count(page, 'connections'),
      deliveries: await count(page, 'deliveries'),
      payloads: await count(page, 'payloads'),
    };
    expect(counts.connections).toBe(2);
    expect(counts.deliveries).toBeGreaterThan(0);
    expect(counts.payloads).toBeGreaterThan(0);
    expect(await page.locator('#deletion-status').textContent()).toBe(
      `Your account was deleted: 2 connections, ${counts.deliveries} webhook deliveries and ${counts.payloads} archived payloads removed.`,
    );
    expect(await panel.textContent()).toContain('Nothing of yours is left at Terra or here.');

    // The list is empty, and the feed has the event the app received.
    await page.locator('#no-connections').waitFor();
    expect(await page.locator('#connections tbody tr').count()).toBe(0);
    const announced = page.locator(
      `#events tbody tr[data-detail-type="terra.user_deleted"][data-reference-id="${name}"]`,
    );
    await announced.waitFor();
    expect(await announced.textContent()).toContain('terra.user_deleted · 2 Terra users');
    // The app deletes its own copies on terra.user_deleted: of judy's events, with their health data,
    // only the deletion's own is left, on the page and in the feed it is read from.
    const judysRows = `#events tbody tr[data-reference-id="${name}"]:not([data-detail-type="terra.user_deleted"])`;
    expect(await page.locator(judysRows).count()).toBe(0);
    await page.check('#feed-all');
    const everyRow = await page.locator('#events tbody tr').count();
    expect(await page.locator(judysRows).count()).toBe(0);
    expect(await page.locator('#feed-count').textContent()).toContain(`${everyRow} event`);
    await page.uncheck('#feed-all');
    const feed = (await (await fetch(`${demo.stack.apiUrl}/dev/events`)).json()) as {
      events: Array<{
        envelope: { 'detail-type': string; detail: { reference_id?: string; user_id?: string } };
      }>;
    };
    const about = feed.events.filter(
      ({ envelope: { detail } }) =>
        detail.reference_id === name || detail.user_id === garmin || detail.user_id === oura,
    );
    expect(about.map(({ envelope }) => envelope['detail-type'])).toEqual(['terra.user_deleted']);
    const open = page.locator('#deletion-event-open');
    await open.waitFor();
    expect(await page.locator('#delete-account').isEnabled()).toBe(true);
    expect(await page.locator('#providers [data-provider="GARMIN"]').isEnabled()).toBe(true);
    await shots.take(page, 'deleted');

    // The panel's link opens the event: this deletion, both Terra users.
    await open.click();
    await page.locator('#event-dialog').waitFor();
    const envelope = JSON.parse((await page.locator('#event-envelope').textContent()) ?? '') as {
      'detail-type': string;
      detail: { reference_id: string; deletion_id: string; user_ids: string[] };
    };
    expect(envelope['detail-type']).toBe('terra.user_deleted');
    expect(envelope.detail.reference_id).toBe(name);
    expect([...envelope.detail.user_ids].sort()).toEqual([garmin, oura].sort());
    await shots.take(page, 'event', { fullPage: false });
    await page.keyboard.press('Escape');
    await page.locator('#event-dialog').waitFor({ state: 'hidden' });
    expect(await focused(page)).toBe('deletion-event-open');
    await context.close();

    // Outside the browser: nothing of judy is left in the API, at Terra, or in the archive.
    const judy = new AppUser(demo.stack, name);
    expect(await judy.connections()).toEqual([]);
    const status = await judy.call('GET', '/me/deletion');
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({
      status: 'done',
      deletion_id: envelope.detail.deletion_id,
      ...counts,
    });
    const sandbox = demo.stack.sandbox;
    if (!sandbox) throw new Error('the test stack runs the sandbox');
    expect(sandbox.users().filter((user) => user.reference_id === name)).toEqual([]);
    // Terra's deauth webhooks come late; they must bring nothing back.
    await settle(demo.stack);
    expect(archived(garmin)).toEqual([]);
    expect(archived(oura)).toEqual([]);
    expect(await judy.connections()).toEqual([]);
  }, 60_000);

  it('with nothing connected it is done at once (204), confirmed from the keyboard', async () => {
    const shots = new Screenshots('delete-account-empty');
    const name = 'kim';
    const { context, page } = await signIn(demo.browser, demo.stack.apiUrl, name);
    await page.locator('#no-connections').waitFor();

    await page.locator('#delete-account').focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('alertdialog', { name: 'Delete your account?' });
    await dialog.waitFor();
    expect(await page.locator('#delete-dialog-connections').textContent()).toContain(
      'you have none right now',
    );
    // Tab from Cancel to the destructive button, then Enter.
    await page.keyboard.press('Tab');
    expect(await focused(page)).toBe('delete-confirm');
    await page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'hidden' });

    await page.locator('#deletion[data-status="done"]').waitFor();
    expect(await focused(page)).toBe('deletion');
    expect(await page.locator('#deletion-status').textContent()).toBe(
      'Your account was deleted: 0 connections, 0 webhook deliveries and 0 archived payloads removed.',
    );
    await page
      .locator(`#events tbody tr[data-detail-type="terra.user_deleted"][data-reference-id="${name}"]`)
      .filter({ hasText: '0 Terra users' })
      .waitFor();
    await page.locator('#deletion-event-open').waitFor();
    await shots.take(page, 'deleted');
    await context.close();

    const kim = new AppUser(demo.stack, name);
    expect((await kim.call('GET', '/me/deletion')).body).toMatchObject({ status: 'done', connections: 0 });
  }, 30_000);
});
