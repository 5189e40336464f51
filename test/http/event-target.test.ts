import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { freePort, localClient } from '#local/dynamodb';
import { DEAD_LETTER_FILE, type EventEnvelope, envelopeOf, startLocalPipeline } from '#local/pipeline';
import type { LocalStack, LocalStackOptions } from '#local/stack';
import { TARGET_QUEUE_FILE, TargetForwarder } from '#local/target-forwarder';
import { ContractCheck } from '../helpers/event-contracts.ts';
import { settle } from '../helpers/events.ts';
import { startTestStack } from '../helpers/local-stack.ts';
import { signedHeaders } from '../helpers/signing.ts';
import { authSuccess, dataEvent, terraUser } from '../helpers/terra-fixtures.ts';

/**
 * EVENT_TARGET_URL (the local contract): every event the app would receive reaches the team's server, or
 * waits in the dead letters for `npm run ops -- redrive`; none is lost to a stop, a crash or a target that
 * is down, and a backlog drains for several Terra users at once, each user's events in order.
 */
vi.setConfig({ testTimeout: 180_000 });

const ROOT = resolve(import.meta.dirname, '../..');
const cleanups: Array<() => Promise<void> | void> = [];
/** What the targets and the pipelines started here take, held to its JSON Schema. */
const contracts = new ContractCheck();
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  contracts.assert();
});

/** The team's server: records what it takes, and how many requests it held at once. */
class Target {
  readonly received: EventEnvelope[] = [];
  /** The detail id of every request, refused ones included. */
  readonly attempts: string[] = [];
  /** `refuse` answers 503 at once; `accept` takes each event (after `gate`, when set). */
  mode: 'accept' | 'refuse' = 'accept';
  /** Terra users whose events it refuses (503) whatever the mode. */
  readonly refusing = new Set<string>();
  /**
   * Holds each request until this many are in flight (a slow server that only a concurrent sender gets
   * through quickly); a fallback releases a lone request after 2 s so a serial sender is not stuck (every
   * lane of a concurrent sender has events left well past that).
   */
  gate = 0;
  maxInFlight = 0;
  /** The most requests about one Terra user it held at once: more than one could arrive out of order. */
  maxInFlightPerUser = 0;
  private inFlight = 0;
  private readonly perUser = new Map<string, number>();
  private waiting: Array<() => void> = [];
  private server: Server | undefined;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      request.on('end', () => void this.take(body, (status) => response.writeHead(status).end()));
    });
    await new Promise<void>((done) => this.server?.listen(0, '127.0.0.1', () => done()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/events`;
    cleanups.push(() => this.close());
    return this;
  }

  private async take(body: string, answer: (status: number) => void): Promise<void> {
    const envelope = JSON.parse(body) as EventEnvelope;
    contracts.check(envelope);
    const user = String((envelope.detail as { user_id?: unknown }).user_id);
    this.attempts.push((envelope.detail as { id: string }).id);
    if (this.mode === 'refuse' || this.refusing.has(user)) {
      answer(503);
      return;
    }
    this.inFlight++;
    this.perUser.set(user, (this.perUser.get(user) ?? 0) + 1);
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    this.maxInFlightPerUser = Math.max(this.maxInFlightPerUser, this.perUser.get(user) ?? 0);
    this.received.push(envelope);
    if (this.gate > 1) {
      await new Promise<void>((release) => {
        this.waiting.push(release);
        if (this.inFlight >= this.gate) for (const waiter of this.waiting.splice(0)) waiter();
        setTimeout(release, 2_000);
      });
    }
    this.inFlight--;
    this.perUser.set(user, (this.perUser.get(user) ?? 1) - 1);
    answer(204);
  }

  ids(): string[] {
    return this.received.map((envelope) => (envelope.detail as { id: string }).id);
  }

  close(): Promise<void> {
    for (const waiter of this.waiting.splice(0)) waiter();
    return new Promise((done) => {
      this.server?.close(() => done());
      this.server?.closeAllConnections();
    });
  }
}

/** A URL nothing listens on: a target that is down. */
const downUrl = async () => `http://127.0.0.1:${await freePort()}/events`;

async function stackWith(options: LocalStackOptions): Promise<LocalStack> {
  // No backfill: its requests would add events at their own pace.
  const stack = await startTestStack({ ...options, env: { BACKFILL_DAYS: '0', ...options.env } });
  cleanups.push(() => stack.stop());
  return stack;
}

async function deliver(stack: LocalStack, payload: unknown): Promise<void> {
  const body = JSON.stringify(payload);
  const response = await fetch(stack.webhookUrl, {
    method: 'POST',
    headers: signedHeaders(body, { secret: stack.signingSecret, traceId: randomUUID() }),
    body,
  });
  expect(response.status).toBe(200);
}

const DATA_TYPES = ['activity', 'sleep', 'daily', 'body'] as const;

/** For each of `count` Terra users, a connection then one payload of each data type: 5 events per user. */
async function produce(stack: LocalStack, count: number): Promise<string[]> {
  const users = Array.from({ length: count }, () => `tu-${randomUUID()}`);
  for (const user_id of users) {
    await deliver(stack, authSuccess({ user: terraUser({ user_id, reference_id: `app-${user_id}` }) }));
  }
  for (const type of DATA_TYPES) {
    for (const user_id of users) {
      await deliver(stack, dataEvent(type, { user: terraUser({ user_id, reference_id: `app-${user_id}` }) }));
    }
  }
  return users;
}

interface Published {
  id: string;
  user_id: string | undefined;
}

const publishedOf = (stack: LocalStack): Published[] =>
  stack.pipeline.feed().map(({ envelope }) => {
    const detail = envelope.detail as { id: string; user_id?: string };
    return { id: detail.id, user_id: detail.user_id };
  });

/** Polls the feed itself: settling the stack would wait for a target that is down. */
async function untilPublished(stack: LocalStack, count: number): Promise<Published[]> {
  for (let i = 0; i < 600 && publishedOf(stack).length < count; i++) {
    await new Promise((done) => setTimeout(done, 50));
  }
  expect(publishedOf(stack)).toHaveLength(count);
  return publishedOf(stack);
}

function deadLetters(dataDir: string): Array<{ detailType: string; detail: { id: string }; reason: string }> {
  const file = join(dataDir, DEAD_LETTER_FILE);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as { detailType: string; detail: { id: string }; reason: string });
}

/** Each Terra user's event ids, in the order given. */
function byUser(events: ReadonlyArray<{ id: string; user_id: string | undefined }>): Map<string, string[]> {
  const lanes = new Map<string, string[]>();
  for (const { id, user_id } of events)
    lanes.set(String(user_id), [...(lanes.get(String(user_id)) ?? []), id]);
  return lanes;
}

const envelopeEvents = (envelopes: readonly EventEnvelope[]) =>
  envelopes.map((envelope) => {
    const detail = envelope.detail as { id: string; user_id?: string };
    return { id: detail.id, user_id: detail.user_id };
  });

describe('EVENT_TARGET_URL when the target is down', () => {
  it('loses nothing when the stack stops: each event is delivered on the next start or waits in the dead letters', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'terra-local-'));
    const suffix = randomUUID().slice(0, 8);
    const tables = { connectionsTable: `connections-${suffix}`, inboxTable: `inbox-${suffix}` };
    const first = await stackWith({ dataDir, tables, eventTargetUrl: await downUrl() });
    const published = await untilPublished(first, (await produce(first, 3)).length * 5);
    await first.stop();

    const target = await new Target().start();
    const second = await stackWith({ dataDir, tables, eventTargetUrl: target.url });
    await settle(second);
    const accounted = new Set([...target.ids(), ...deadLetters(dataDir).map((line) => line.detail.id)]);
    expect(published.filter(({ id }) => !accounted.has(id))).toEqual([]);
  });

  it('dead-letters on stop, in order per Terra user, what the target has not taken', async () => {
    const stack = await stackWith({ eventTargetUrl: await downUrl() });
    const published = await untilPublished(stack, (await produce(stack, 3)).length * 5);
    await stack.stop();

    const letters = deadLetters(stack.dataDir);
    expect(letters).toHaveLength(published.length);
    const lettered = letters.map((line) => ({
      id: line.detail.id,
      user_id: (line.detail as { user_id?: string }).user_id,
    }));
    expect(byUser(lettered)).toEqual(byUser(published));
    for (const line of letters) expect(line.reason).toMatch(/stopped/);
  });

  it('delivers on the next start what a killed stack had not delivered', async () => {
    const stack = await stackWith({});
    // The publisher runs in a process of its own below, which the test kills as a crash would.
    await stack.pipeline.stop();
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(ROOT, 'test/helpers/pipeline-process.ts'),
        JSON.stringify({ env: stack.env, dataDir: stack.dataDir, eventTargetUrl: await downUrl() }),
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    cleanups.push(async () => {
      child.kill('SIGKILL');
      await exited;
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const lines = () =>
      output
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Published);
    for (let i = 0; i < 600 && !output.includes('ready\n'); i++)
      await new Promise((done) => setTimeout(done, 50));
    expect(output).toContain('ready\n');

    const count = (await produce(stack, 3)).length * 5;
    for (let i = 0; i < 600 && lines().length < count; i++) await new Promise((done) => setTimeout(done, 50));
    expect(lines()).toHaveLength(count);
    child.kill('SIGKILL');
    await exited;

    const target = await new Target().start();
    const admin = localClient(stack.dynamoEndpoint);
    cleanups.push(() => admin.destroy());
    const restarted = await startLocalPipeline({
      admin,
      env: stack.env,
      dataDir: stack.dataDir,
      eventTargetUrl: target.url,
      onEvent: contracts.check,
    });
    cleanups.push(() => restarted.stop());
    for (let i = 0; i < 40 && target.received.length < count; i++) await restarted.settled();
    expect(new Set(target.ids())).toEqual(new Set(lines().map(({ id }) => id)));
    expect(byUser(envelopeEvents(target.received))).toEqual(byUser(lines()));
  });
});

describe('EVENT_TARGET_URL with a backlog', () => {
  it('drains it for several Terra users at once, each user in order, through refusals and a slow target', async () => {
    const target = await new Target().start();
    target.mode = 'refuse';
    const stack = await stackWith({ eventTargetUrl: target.url });
    const users = await produce(stack, 4);
    const published = await untilPublished(stack, users.length * 5);

    // Only a sender with every user's next event in flight at once gets through quickly.
    target.gate = users.length;
    target.mode = 'accept';
    for (let i = 0; i < 40 && target.received.length < published.length; i++) await settle(stack, 1);

    expect(target.ids().sort()).toEqual(published.map(({ id }) => id).sort());
    expect(byUser(envelopeEvents(target.received))).toEqual(byUser(published));
    expect(target.maxInFlightPerUser).toBe(1);
    expect(target.maxInFlight).toBe(users.length);
  });
});

describe('an event the target never takes', () => {
  it('goes to the dead letters with the events queued behind it for the same Terra user, in order; other users go on', async () => {
    const target = await new Target().start();
    const dataDir = mkdtempSync(join(tmpdir(), 'terra-target-'));
    const forwarder = new TargetForwarder(target.url, {
      journal: join(dataDir, TARGET_QUEUE_FILE),
      deadLetters: join(dataDir, DEAD_LETTER_FILE),
      retryMs: [10, 10],
    });
    cleanups.push(() => forwarder.stop());
    const [refused, taken] = ['tu-refused', 'tu-taken'];
    target.refusing.add(refused);
    const events = [refused, taken, refused, taken, refused].map((user_id, i) =>
      envelopeOf({
        detailType: 'terra.connection',
        detail: {
          id: `connection:${i}`,
          user_id,
          reference_id: 'app-user',
          provider: 'GARMIN',
          status: 'active',
          previous_status: null,
          at: new Date().toISOString(),
        },
      }),
    );
    for (const envelope of events) forwarder.push(envelope);
    await forwarder.idle();

    expect(target.ids()).toEqual(['connection:1', 'connection:3']);
    // Those behind the refused one were not tried on their own: they went with it, not a minute each.
    expect(target.attempts.filter((id) => !target.ids().includes(id))).toEqual([
      'connection:0',
      'connection:0',
      'connection:0',
    ]);
    expect(deadLetters(dataDir).map((line) => line.detail.id)).toEqual([
      'connection:0',
      'connection:2',
      'connection:4',
    ]);
    // Nothing is left queued for a next start to send again.
    expect(existsSync(join(dataDir, TARGET_QUEUE_FILE))).toBe(false);
  });
});
