import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, inject } from 'vitest';
import { type LocalStack, type LocalStackOptions, startLocalStack } from '#local/stack';
import type { Sandbox } from '#sandbox/sandbox';
import type { BackfillSummary } from '#shared/backfill/model';
import { createDocumentClient } from '#shared/store/client';
import { ConnectionStore } from '#shared/store/connections';
import { DeliveryStore } from '#shared/store/deliveries';
import { ContractCheck } from './event-contracts.ts';

/**
 * The local stack as the HTTP tests use it: random ports, the run's DynamoDB Local with fresh tables,
 * the sandbox with a retry schedule measured in milliseconds, and every event it publishes held to its
 * JSON Schema (a broken one fails the test at its next settle, feed read or stop).
 */
export async function startTestStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const suffix = randomUUID().slice(0, 8);
  const contracts = new ContractCheck();
  const stack = await startLocalStack({
    port: 0,
    dataDir: mkdtempSync(join(tmpdir(), 'terra-local-')),
    inMemory: true,
    dynamoEndpoint: inject('dynamoEndpoint'),
    tables: { connectionsTable: `connections-${suffix}`, inboxTable: `inbox-${suffix}` },
    ...options,
    sandbox: { port: 0, retryScheduleMs: [50, 100, 200], deliveryTimeoutMs: 2_000, ...options.sandbox },
    onEvent: (envelope) => {
      contracts.check(envelope);
      options.onEvent?.(envelope);
    },
  });
  return contracts.guard(stack);
}

/** A signed-in app user of the local API. */
export class AppUser {
  readonly sub: string;
  private token: string | undefined;

  /** A fresh random identity unless `sub` is given. */
  constructor(
    private readonly stack: LocalStack,
    sub?: string,
  ) {
    this.sub = sub ?? `user-${randomUUID()}`;
  }

  async call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    this.token ??= await this.mint();
    const response = await fetch(`${this.stack.apiUrl}${path}`, {
      method,
      redirect: 'manual',
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    const json = text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>);
    return { status: response.status, body: json ?? {} };
  }

  async connections(query = ''): Promise<Array<Record<string, unknown> & { backfill?: BackfillSummary }>> {
    const { status, body } = await this.call('GET', `/connections${query}`);
    expect(status).toBe(200);
    return body.connections as Array<Record<string, unknown> & { backfill?: BackfillSummary }>;
  }

  private async mint(): Promise<string> {
    const response = await fetch(`${this.stack.apiUrl}/dev/token`, {
      method: 'POST',
      body: JSON.stringify({ sub: this.sub }),
    });
    return ((await response.json()) as { token: string }).token;
  }
}

/** What a person does at the sandbox's provider login page: type an account name, press a button. */
export async function decideAtLogin(
  loginUrl: string,
  decision: 'approve' | 'cancel',
  account = 'demo-account',
): Promise<string> {
  const page = await fetch(loginUrl, { redirect: 'follow' });
  const html = await page.text();
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  expect(action, 'the login page has a form').toBeDefined();
  const response = await fetch(new URL(action ?? '', page.url), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ account, decision }).toString(),
  });
  expect(response.status).toBe(302);
  return response.headers.get('location') ?? '';
}

/** The widget page: pick a provider, land on its login page. */
export async function pickInWidget(widgetUrl: string, provider: string): Promise<string> {
  const html = await (await fetch(widgetUrl)).text();
  const href = new RegExp(`data-provider="${provider}" href="([^"]+)"`).exec(html)?.[1];
  expect(href, `the widget offers ${provider}`).toBeDefined();
  return new URL(href ?? '', widgetUrl).toString();
}

/** Follows our callback the way the browser would, returning where it sends the user. */
export async function followCallback(callbackUrl: string): Promise<URL> {
  const response = await fetch(callbackUrl, { redirect: 'manual' });
  expect(response.status).toBe(302);
  return new URL(response.headers.get('location') ?? '');
}

/** The stack's sandbox, the Terra of these tests; a stack talking to a real Terra has none. */
export function sandboxOf(stack: LocalStack): Sandbox {
  if (!stack.sandbox) throw new Error('the sandbox is not running');
  return stack.sandbox;
}

/** The stack's delivery inbox, read as the webhook's store does (parked deliveries, their drain). */
export function inboxOf(stack: LocalStack): DeliveryStore {
  const doc = createDocumentClient({ dynamoEndpoint: stack.dynamoEndpoint });
  return new DeliveryStore(doc, stack.tables.inboxTable, new ConnectionStore(doc, stack.tables), {
    leaseSeconds: 15,
    ttlDays: 30,
    now: Date.now,
  });
}
