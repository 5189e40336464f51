import { describe, expect, it } from 'vitest';
import { decide, demoSession, openTab, row, Screenshots, signIn } from './browser.ts';

/** The demo page in chromium: its own provider buttons, disconnecting, and the sandbox's controls. */
const demo = demoSession();

describe('the custom UI', () => {
  it('connects OURA from its own button, then disconnects it', async () => {
    const shots = new Screenshots('custom-oura');
    const { context, page } = await signIn(demo.browser, demo.stack.apiUrl, 'dave');
    // POST /connections goes straight to the provider's login, with no widget in between.
    const tab = await openTab(page, '#providers [data-provider="OURA"]');
    expect(new URL(tab.url()).pathname).not.toContain('/widget/');
    await row(page, 'OURA', 'pending').waitFor();
    await shots.take(page, 'pending');

    await decide(tab, 'approve', 'dave-oura', shots);
    expect(await tab.locator('#status').getAttribute('data-status')).toBe('active');
    await shots.take(tab, 'success-page');
    await tab.close();

    await row(page, 'OURA', 'active').waitFor();
    await shots.take(page, 'active');
    await row(page, 'OURA', 'active').locator('[data-action="disconnect"]').click();
    await row(page, 'OURA', 'disconnected').waitFor();
    expect(await page.locator('#message').textContent()).toBe('Disconnected Oura.');
    expect(await row(page, 'OURA', 'disconnected').locator('button').count()).toBe(0);
    await shots.take(page, 'disconnected');
    await context.close();
  }, 30_000);
});

describe('the sandbox panel', () => {
  it('fires connection_error: the page says the connection needs reconnecting, and reconnecting fixes it', async () => {
    const shots = new Screenshots('sandbox-connection-error');
    const { context, page } = await signIn(demo.browser, demo.stack.apiUrl, 'erin');
    const tab = await openTab(page, '#providers [data-provider="GARMIN"]');
    await decide(tab, 'approve', 'erin-garmin');
    await tab.close();
    await row(page, 'GARMIN', 'active').waitFor();

    await page.click('#sandbox-events [data-event="connection_error"]');
    await row(page, 'GARMIN', 'error').waitFor();
    expect(await row(page, 'GARMIN', 'error').locator('.status').textContent()).toBe(
      'error: needs reconnecting',
    );
    const attention = page.locator('#attention .attention');
    expect(await attention.textContent()).toContain('Garmin needs reconnecting');
    await page.locator('#deliveries tr[data-type="connection_error"][data-status="delivered"]').waitFor();
    await shots.take(page, 'needs-reconnecting');

    // The banner's Reconnect: the same Garmin account again replaces the broken connection.
    const again = await openTab(page, '#attention [data-reconnect="GARMIN"]');
    await again.click('[data-provider="GARMIN"]');
    await decide(again, 'approve', 'erin-garmin');
    await again.close();
    await row(page, 'GARMIN', 'active').waitFor();
    await row(page, 'GARMIN', 'replaced').waitFor();
    expect(await attention.count()).toBe(0);
    await shots.take(page, 'reconnected');
    await context.close();
  }, 30_000);
});

describe('a login that is not finished', () => {
  it('says what a pending connection is and what to do, names a cancelled login, and the sandbox aims at the live connection', async () => {
    const shots = new Screenshots('pending-cancelled');
    const { context, page } = await signIn(demo.browser, demo.stack.apiUrl, 'ivan');
    const garminTab = await openTab(page, '#providers [data-provider="GARMIN"]');
    await decide(garminTab, 'approve', 'ivan-garmin');
    await garminTab.close();
    const garmin = row(page, 'GARMIN', 'active');
    await garmin.waitFor();
    const garminId = await garmin.getAttribute('data-user-id');

    // While the provider's login is open: pending, waiting for it, and how to go on.
    const ouraTab = await openTab(page, '#providers [data-provider="OURA"]');
    const pending = row(page, 'OURA', 'pending');
    const waiting = pending.locator('.pending-note[data-login="waiting"]');
    await waiting.waitFor();
    expect(await waiting.textContent()).toContain('Waiting for you to sign in at Oura');
    expect(await waiting.textContent()).toContain('Disconnect');

    // Cancelled at the provider: the record stays pending (Terra sends no webhook naming the user), and
    // the page says what happened and what to do.
    await decide(ouraTab, 'cancel', 'ivan-oura');
    await ouraTab.close();
    const cancelled = pending.locator('.pending-note[data-login="cancelled"]');
    await cancelled.waitFor();
    expect(await cancelled.textContent()).toContain('You cancelled the login at Oura');
    expect(await cancelled.textContent()).toContain('Connect again');
    expect(await cancelled.textContent()).toContain('Disconnect');
    // Its time says when the login started: it was never connected.
    expect(await pending.textContent()).toMatch(/started (now|\d)/);
    expect(await pending.textContent()).not.toMatch(/connected (now|\d)/);
    await shots.take(page, 'cancelled');

    // Terra has no user behind a cancelled login: the sandbox's controls aim at the live connection only.
    const ouraId = await pending.getAttribute('data-user-id');
    expect(await page.locator('#sandbox-connection').inputValue()).toBe(garminId);
    expect(await page.locator(`#sandbox-connection option[value="${ouraId}"]`).count()).toBe(0);
    await context.close();
  }, 30_000);
});
