import { describe, expect, it } from 'vitest';
import { decide, demoSession, openTab, row, signIn } from './browser.ts';

/**
 * The demo's sign-in in chromium: "any name will do" holds for the names people have (spaces, accents,
 * other scripts, emails with `+`), and a name the API would refuse is refused at once, saying why,
 * instead of a token every route answers with 401.
 */
const demo = demoSession();

describe('signing in to the demo', () => {
  it('takes a name with a space and accents, and connects a wearable under it', async () => {
    const name = 'José Müller';
    const { context, page } = await signIn(demo.browser, demo.stack.apiUrl, name);
    const tab = await openTab(page, '#providers [data-provider="GARMIN"]');
    await decide(tab, 'approve', 'jose-garmin');
    await tab.close();
    await row(page, 'GARMIN', 'active').waitFor();
    expect(await page.locator('#message').textContent()).not.toContain('expired');
    await page
      .locator(`#events tbody tr[data-detail-type="terra.connection"][data-reference-id="${name}"]`)
      .first()
      .waitFor();
    await context.close();
  }, 30_000);

  it('refuses a name with an invisible character, saying which, and stays on the sign-in form', async () => {
    const context = await demo.browser.newContext();
    const page = await context.newPage();
    await page.goto(demo.stack.apiUrl);
    await page.fill('#user-name', 'alice\u200b');
    await page.click('#sign-in-button');
    const message = page.locator('#message.error');
    await message.waitFor();
    expect(await message.textContent()).toContain('U+200B');
    expect(await message.textContent()).not.toContain('expired');
    expect(await page.locator('#sign-in').isVisible()).toBe(true);
    expect(await page.locator('#app').isHidden()).toBe(true);
    await context.close();
  }, 30_000);
});
