import { describe, expect, it } from 'vitest';
import { decide, demoSession, openTab, row, Screenshots, signIn } from './browser.ts';

/** The demo page in chromium, connecting through Terra's widget (the sandbox playing Terra). */
const demo = demoSession();

describe('connecting through the widget', () => {
  it('signs in, connects GARMIN, lands on the success page and shows it active', async () => {
    const shots = new Screenshots('widget-connect');
    const { context, page } = await signIn(demo.browser, demo.stack.apiUrl, 'alice');
    // SDK-only sources are listed but cannot be connected from a web page.
    const apple = page.locator('#providers [data-provider="APPLE"]');
    expect(await apple.isDisabled()).toBe(true);
    expect(await apple.textContent()).toContain('mobile SDK only');
    await shots.take(page, 'signed-in');

    const tab = await openTab(page, '#connect-widget');
    await tab.locator('[data-provider="GARMIN"]').waitFor();
    await shots.take(tab, 'widget');
    await tab.click('[data-provider="GARMIN"]');
    await decide(tab, 'approve', 'alice-garmin', shots);
    expect(await tab.locator('#status').getAttribute('data-status')).toBe('active');
    expect(await tab.locator('#status').textContent()).toBe('GARMIN is connected');
    await shots.take(tab, 'success-page');

    await page.bringToFront();
    await row(page, 'GARMIN', 'active').waitFor();
    expect(await row(page, 'GARMIN', 'active').locator('.scope').count()).toBeGreaterThan(0);
    await page.locator('#deliveries tr[data-type="auth"][data-status="delivered"]').first().waitFor();
    await shots.take(page, 'active');
    await context.close();
  }, 30_000);

  it('reconnecting the same account replaces the old connection with a new active one', async () => {
    const shots = new Screenshots('widget-reconnect');
    const { context, page } = await signIn(demo.browser, demo.stack.apiUrl, 'bob');
    const first = await openTab(page, '#connect-widget');
    await first.click('[data-provider="GARMIN"]');
    await decide(first, 'approve', 'bob-garmin');
    await first.close();
    await row(page, 'GARMIN', 'active').waitFor();
    const oldId = await row(page, 'GARMIN', 'active').getAttribute('data-user-id');
    await shots.take(page, 'connected');

    // The row's Reconnect opens the widget for that provider; the same account at Garmin is a reauth.
    const again = await openTab(page, '#connections tr[data-status="active"] [data-action="reconnect"]');
    await again.click('[data-provider="GARMIN"]');
    await decide(again, 'approve', 'bob-garmin');
    await again.close();

    await row(page, 'GARMIN', 'replaced').waitFor();
    await row(page, 'GARMIN', 'active').waitFor();
    expect(await row(page, 'GARMIN', 'replaced').getAttribute('data-user-id')).toBe(oldId);
    expect(await row(page, 'GARMIN', 'active').getAttribute('data-user-id')).not.toBe(oldId);
    expect(await row(page, 'GARMIN', 'replaced').textContent()).toContain('replaced by');
    await shots.take(page, 'replaced');
    await context.close();
  }, 30_000);

  it('cancelling at the provider ends on the failure page with nothing active', async () => {
    const shots = new Screenshots('widget-cancel');
    const { context, page } = await signIn(demo.browser, demo.stack.apiUrl, 'carol');
    const tab = await openTab(page, '#connect-widget');
    await tab.click('[data-provider="POLAR"]');
    await decide(tab, 'cancel', 'carol-polar', shots);
    expect(await tab.locator('#status').getAttribute('data-status')).toBe('cancelled');
    expect(await tab.locator('main').getAttribute('data-outcome')).toBe('failure');
    expect(await tab.locator('#summary').textContent()).toContain('nothing was connected');
    await shots.take(tab, 'failure-page');

    // Back to the demo, through the result page's own link.
    await tab.click('#back');
    await tab.locator('#who-name', { hasText: 'carol' }).waitFor();
    await tab.locator('#deliveries tr[data-type="auth_cancelled"]').first().waitFor();
    expect(await tab.locator('#connections tbody tr[data-status="active"]').count()).toBe(0);
    expect(await tab.locator('#no-connections').isVisible()).toBe(true);
    await shots.take(tab, 'nothing-active');
    await context.close();
  }, 30_000);
});
