import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import type { LocalStack, LocalStackOptions } from '#local/stack';
import { startTestStack } from '../helpers/local-stack.ts';

/**
 * The demo page driven the way a person uses it: Debian's chromium (installed by `.ci/run`) through
 * playwright-core. Playwright gives every launch a fresh temporary profile of its own.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ARTIFACTS = join(import.meta.dirname, 'artifacts');

/**
 * One local stack and one Chromium per test file, started together before its tests and stopped after.
 * Read them through the returned object once the tests run. `options` go to the stack (e.g. `env`).
 */
export function demoSession(options: LocalStackOptions = {}): { stack: LocalStack; browser: Browser } {
  const session = {} as { stack: LocalStack; browser: Browser };
  beforeAll(async () => {
    [session.stack, session.browser] = await Promise.all([startTestStack(options), launchBrowser()]);
  }, 60_000);
  afterAll(async () => {
    await session.browser?.close();
    await session.stack?.stop();
  });
  return session;
}

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `No chromium at ${CHROMIUM}: install it (apt-get install chromium, as .ci/run does) or set CHROMIUM_PATH.`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    timeout: 30_000,
    // This machine's network refuses Google's hosts: nothing may try to reach them.
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Numbered screenshots of one scenario: `artifacts/<scenario>-<nn>-<step>.png`. */
export class Screenshots {
  private count = 0;
  readonly taken: string[] = [];

  constructor(private readonly scenario: string) {
    mkdirSync(ARTIFACTS, { recursive: true });
  }

  /** The whole page by default; `fullPage: false` for what is in view (e.g. a modal dialog). */
  async take(page: Page, step: string, options: { fullPage?: boolean } = {}): Promise<void> {
    this.count += 1;
    const name = `${this.scenario}-${String(this.count).padStart(2, '0')}-${step}.png`;
    await page.screenshot({ path: join(ARTIFACTS, name), fullPage: options.fullPage ?? true });
    this.taken.push(name);
  }
}

/** The demo page, signed in as a fresh dev user, in a context of its own (its own storage). */
export async function signIn(
  browser: Browser,
  apiUrl: string,
  name: string,
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  await page.goto(apiUrl);
  await page.fill('#user-name', name);
  await page.click('#sign-in-button');
  await page.locator('#who-name', { hasText: name }).waitFor();
  await page.locator('#providers [data-provider="GARMIN"]').waitFor();
  return { context, page };
}

/** Clicks something that opens Terra, and returns the new tab once it has left about:blank. */
export async function openTab(page: Page, selector: string): Promise<Page> {
  const [tab] = await Promise.all([page.context().waitForEvent('page'), page.click(selector)]);
  await tab.waitForURL((url) => url.protocol === 'http:');
  return tab;
}

/** The sandbox's fake provider login: type the account name, approve or cancel, land on our result page. */
export async function decide(
  tab: Page,
  decision: 'approve' | 'cancel',
  account: string,
  shots?: Screenshots,
): Promise<void> {
  await tab.fill('#account', account);
  await shots?.take(tab, 'provider-login');
  await tab.click(`#${decision}`);
  await tab.waitForURL((url) => url.pathname === '/result');
}

/** A row of the connection list. */
export const row = (page: Page, provider: string, status: string) =>
  page.locator(`#connections tbody tr[data-provider="${provider}"][data-status="${status}"]`);
