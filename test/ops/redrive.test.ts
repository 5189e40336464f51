import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEAD_LETTER_FILE, type EventEnvelope } from '#local/pipeline';
import type { LocalStack } from '#local/stack';
import type { BusEvent } from '#shared/events/bus-events';
import { startTestStack } from '../helpers/local-stack.ts';
import { opsAgainst } from './run-ops.ts';

/**
 * `ops redrive` locally: the events the stack could not forward to the team's server (kept in
 * dead-letters.jsonl) sent again, as EventBridge envelopes, to a small receiver; only what still fails
 * stays in the file.
 */
vi.setConfig({ testTimeout: 120_000 });

let stack: LocalStack;
let receiver: Server;
let receiverUrl: string;
const received: EventEnvelope[] = [];
const refused = new Set<string>();
let ops: ReturnType<typeof opsAgainst>;

beforeAll(async () => {
  receiver = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    request.on('end', () => {
      const envelope = JSON.parse(body) as EventEnvelope;
      if (refused.has(envelope.id)) {
        response.writeHead(500).end();
        return;
      }
      received.push(envelope);
      response.writeHead(200).end();
    });
  });
  await new Promise<void>((done) => receiver.listen(0, '127.0.0.1', () => done()));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/events`;
  stack = await startTestStack({ eventTargetUrl: receiverUrl });
  ops = opsAgainst(stack.dataDir);
});
afterAll(async () => {
  await stack?.stop();
  await new Promise<void>((done) => receiver?.close(() => done()));
});

const file = () => join(stack.dataDir, DEAD_LETTER_FILE);

function connectionEvent(): BusEvent {
  return {
    detailType: 'terra.connection',
    detail: {
      id: `connection:${randomUUID()}`,
      user_id: randomUUID(),
      reference_id: 'app-user-1',
      provider: 'GARMIN',
      status: 'active',
      previous_status: null,
      at: new Date().toISOString(),
    },
  };
}

/** The lines the local pipeline writes: the event, why it failed, when. */
function writeDeadLetters(events: BusEvent[], extra: string[] = []) {
  const lines = events.map((event) =>
    JSON.stringify({ ...event, reason: `${receiverUrl} did not accept it`, at: new Date().toISOString() }),
  );
  writeFileSync(file(), `${[...lines, ...extra].join('\n')}\n`);
}

const linesLeft = () =>
  existsSync(file())
    ? readFileSync(file(), 'utf8')
        .split('\n')
        .filter((line) => line.trim() !== '')
    : [];

describe('redrive (local)', () => {
  it('sends the dead letters again as EventBridge envelopes and keeps only what still fails', async () => {
    const events = [connectionEvent(), connectionEvent(), connectionEvent()];
    const [first, second, third] = events.map((event) => event.detail.id);
    writeDeadLetters(events);
    refused.add(String(second));

    const partly = await ops('redrive', '--json');
    expect(partly.code).toBe(4);
    expect(partly.json).toMatchObject({ to: receiverUrl, redriven: 2, failed: 1, remaining: 1 });
    expect(partly.json.results).toEqual([
      { id: first, kind: 'event', detail_type: 'terra.connection', outcome: 'redriven' },
      {
        id: second,
        kind: 'event',
        detail_type: 'terra.connection',
        outcome: 'failed',
        reason: `${receiverUrl} answered 500`,
      },
      { id: third, kind: 'event', detail_type: 'terra.connection', outcome: 'redriven' },
    ]);
    const byId = new Map(received.map((envelope) => [envelope.id, envelope]));
    expect(byId.get(String(first))).toEqual({
      version: '0',
      id: first,
      'detail-type': 'terra.connection',
      source: 'terra-connect',
      account: '000000000000',
      time: expect.any(String),
      region: 'local',
      resources: [],
      detail: events[0]?.detail,
    });
    expect(byId.has(String(third))).toBe(true);
    const left = linesLeft();
    expect(left).toHaveLength(1);
    expect(JSON.parse(left[0] ?? '{}')).toMatchObject({
      ...events[1],
      reason: `${receiverUrl} answered 500`,
    });

    // The receiver takes it now: the file empties.
    refused.clear();
    const rest = await ops('redrive', '--json');
    expect(rest.code).toBe(0);
    expect(rest.json).toMatchObject({ redriven: 1, failed: 0, remaining: 0 });
    expect(received.map((envelope) => envelope.id)).toContain(second);
    expect(linesLeft()).toEqual([]);

    const nothing = await ops('redrive', '--json');
    expect(nothing.code).toBe(0);
    expect(nothing.json).toMatchObject({ results: [], redriven: 0, failed: 0 });
    const table = await ops('redrive');
    expect(table.code).toBe(0);
    expect(table.stdout).toContain('0 of 0 redriven');
  });

  it('fails, keeping every line, when the target cannot be reached; an unreadable line stays too', async () => {
    const event = connectionEvent();
    writeDeadLetters([event], ['not json']);
    const down = opsAgainst(stack.dataDir, { EVENT_TARGET_URL: 'http://127.0.0.1:9/down' });
    const run = await down('redrive', '--json');
    expect(run.code).toBe(1);
    expect(run.json).toMatchObject({ to: 'http://127.0.0.1:9/down', redriven: 0, failed: 2, remaining: 2 });
    expect(run.json.results).toEqual([
      expect.objectContaining({
        id: event.detail.id,
        outcome: 'failed',
        reason: expect.stringContaining('could not be reached'),
      }),
      { id: 'line-2', kind: 'unrecognised', outcome: 'failed', reason: 'not an event' },
    ]);
    expect(linesLeft()).toHaveLength(2);
    expect(linesLeft()).toContain('not json');
    writeFileSync(file(), '');
  });
});
