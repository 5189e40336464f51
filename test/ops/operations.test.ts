import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseDuration, parseInvocation } from '#ops/args';
import { UsageError } from '#ops/errors';
import { count, fields, printable, table } from '#ops/output';
import { progressOn } from '#ops/progress';
import type { PublisherDeps } from '#shared/events/publisher';
import { logger } from '#shared/log';
import type { DeliveryRecord } from '#shared/operations/ports';
import { type DeadLetterQueue, type QueueMessage, redriveQueue } from '#shared/operations/redrive';
import {
  ArchiveNotAuthentic,
  noSigningSecrets,
  replayDeliveries,
  replayHeaders,
} from '#shared/operations/replay';
import { unexplainedTerraUsers } from '#shared/operations/terra-users';
import { receiveWebhook, type WebhookDeps } from '#shared/webhooks/receive';

/**
 * The operations' own logic, in-process with stand-ins, where a running stack cannot easily show it:
 * Terra's paging, the redrive's bounds and failures, how a replay rebuilds headers and refuses to
 * verify anything, the progress line, the command line.
 */
const nothing = () => {
  throw new Error('must not be called');
};

describe('terra-users paging', () => {
  it('reads every page, once per user, and stops where Terra’s next page does not move on', async () => {
    const pages: Record<number, { users: string[]; next: number | null }> = {
      0: { users: ['a', 'b'], next: 1 },
      1: { users: ['b', 'c'], next: 2 },
      2: { users: ['d'], next: 2 },
    };
    const asked: number[] = [];
    const report = await unexplainedTerraUsers(
      {
        terra: {
          listSubscriptions: async (page = 0) => {
            asked.push(page);
            const answer = pages[page] ?? { users: [], next: null };
            return {
              users: answer.users.map((user_id) => ({ user_id, provider: 'GARMIN', reference_id: null })),
              next: answer.next,
            };
          },
          deauthenticateUser: nothing,
        },
        reader: {
          connectionStates: async (ids) =>
            new Map(
              ids.map(
                (id) =>
                  [
                    id,
                    id === 'c'
                      ? { state: 'deleted', deleted_at: '2026-01-01T00:00:00Z' }
                      : { state: 'missing' },
                  ] as const,
              ),
            ),
        },
        now: Date.now,
      },
      { stale: false },
    );
    expect(asked).toEqual([0, 1, 2]);
    expect(report.terra_users).toBe(4);
    expect(report.users.map((user) => [user.user_id, user.reason])).toEqual([
      ['a', 'no_record'],
      ['b', 'no_record'],
      ['c', 'deleted'],
      ['d', 'no_record'],
    ]);
  });
});

function queueOf(bodies: string[]): DeadLetterQueue & { left: () => string[] } {
  let messages: QueueMessage[] = bodies.map((body, i) => ({ id: `m${i}`, receipt: `r${i}`, body }));
  return {
    receive: async () => messages.slice(0, 10),
    delete: async (message) => {
      messages = messages.filter((candidate) => candidate.receipt !== message.receipt);
    },
    approximateCount: async () => messages.length,
    left: () => messages.map((message) => message.body),
  };
}

const publisher = { log: logger } as unknown as PublisherDeps;

describe('redrive from the queue', () => {
  it('deletes only what was published; keeps what the bus refused, what the stream lost, and junk', async () => {
    const event = (id: string) => JSON.stringify({ detailType: 'terra.connection', detail: { id } });
    const batch = JSON.stringify({
      DDBStreamBatchInfo: {
        streamArn: 'arn',
        shardId: 's',
        startSequenceNumber: '1',
        endSequenceNumber: '2',
      },
    });
    const queue = queueOf([event('ok'), event('refused'), batch, '{"neither": true}']);
    const summary = await redriveQueue({
      queue,
      bus: { publish: async (events) => events.filter((one) => one.detail.id === 'refused') },
      streams: {
        read: async () => {
          throw new Error('trimmed');
        },
      },
      publisher,
    });
    expect(summary).toMatchObject({ redriven: 1, failed: 3 });
    expect(summary.results.map((result) => [result.kind, result.outcome])).toEqual([
      ['event', 'redriven'],
      ['event', 'failed'],
      ['stream_batch', 'failed'],
      ['unrecognised', 'failed'],
    ]);
    expect(queue.left()).toEqual([event('refused'), batch, '{"neither": true}']);
  });

  it('stops after what waited when it started (and a margin), however much keeps arriving', async () => {
    let n = 0;
    const summary = await redriveQueue({
      queue: {
        // A queue that is never empty: every message is new.
        receive: async () => Array.from({ length: 10 }, () => ({ id: `m${n++}`, receipt: 'r', body: '{}' })),
        delete: nothing,
        approximateCount: async () => 5,
      },
      bus: { publish: nothing },
      streams: { read: nothing },
      publisher,
    });
    expect(summary.results).toHaveLength(110);
  });
});

describe('replay', () => {
  const delivery = (event_id: string, extra: Partial<DeliveryRecord> = {}): DeliveryRecord => ({
    event_id,
    type: 'auth',
    archive_key: 'quarantine/u/2026/01/01/x.0123456789abcdef.json',
    bytes: 10,
    at: 1_767_225_600_123,
    signed_at: 1_767_225_600,
    status: 'stale',
    received_at: '2026-01-01T00:00:00.000Z',
    attempts: 1,
    ...extra,
  });

  it('rebuilds the headers the record keeps, never a signature', () => {
    expect(replayHeaders(delivery('trace-1', { terra_reference: 'ref-1' }))).toEqual({
      'content-type': 'application/json',
      'x-terra-trace-id': 'trace-1',
      'x-terra-ordering-timestamp': '1767225600123',
      'terra-reference': 'ref-1',
    });
    // A body-hash id is derived again from the same bytes, so it is not sent.
    expect(replayHeaders(delivery(`sha256:${'ab'.repeat(32)}`))).toEqual({
      'content-type': 'application/json',
      'x-terra-ordering-timestamp': '1767225600123',
    });
  });

  const untouchableReceiver = new Proxy({}, { get: nothing }) as unknown as WebhookDeps;
  const hashOf = (text: string) => createHash('sha256').update(text).digest('hex');

  it('refuses a record that keeps no hash of its body (a trace id), running nothing', async () => {
    const old = delivery('trace-old');
    const run = replayDeliveries(
      {
        reader: { deliveries: async () => [old] },
        archive: { get: async () => Buffer.from('{"type":"auth"}'), delete: nothing },
        receiver: untouchableReceiver,
        deliveries: { deleteDeliveries: nothing },
      },
      ['trace-old'],
    );
    await expect(run).rejects.toThrow(ArchiveNotAuthentic);
    await expect(run).rejects.toMatchObject({
      refused: [{ event_id: 'trace-old', archive_key: old.archive_key, problem: 'unverifiable' }],
    });
  });

  it('refuses bytes that changed on disk between the check and the run', async () => {
    const body = '{"type":"auth"}';
    const reads = [Buffer.from(body), Buffer.from('{"type":"auth","reference_id":"victim"}')];
    const results = await replayDeliveries(
      {
        reader: { deliveries: async () => [delivery('trace-1', { body_sha256: hashOf(body) })] },
        archive: { get: async () => reads.shift(), delete: nothing },
        receiver: untouchableReceiver,
        deliveries: { deleteDeliveries: nothing },
      },
      ['trace-1'],
    );
    expect(results).toEqual([
      { event_id: 'trace-1', previous_status: 'stale', outcome: 'body_mismatch', status: 'stale' },
    ]);
  });

  it('gives the receiver no signing secret: anything but a replay fails closed, writing nothing', async () => {
    const untouchable = new Proxy({}, { get: () => nothing });
    const deps = {
      signingSecrets: noSigningSecrets,
      toleranceSeconds: 300,
      archive: untouchable,
      deliveries: untouchable,
      connections: untouchable,
      payloads: untouchable,
      now: Date.now,
      log: { info() {}, warn() {}, error() {}, debug() {} },
    } as unknown as WebhookDeps;
    const result = await receiveWebhook(deps, {
      headers: { 'terra-signature': 't=1,v1=00' },
      body: Buffer.from('{}'),
    });
    expect(result).toMatchObject({ status: 500, outcome: 'error' });
  });
});

describe('the command line', () => {
  it('reads durations and refuses anything else', () => {
    expect(parseDuration('45s')).toBe(45_000);
    expect(parseDuration('30m')).toBe(1_800_000);
    expect(parseDuration('12h')).toBe(43_200_000);
    expect(parseDuration('7d')).toBe(604_800_000);
    for (const bad of ['0d', '1w', '-1d', '1.5h', 'd', ''])
      expect(() => parseDuration(bad)).toThrow(UsageError);
  });

  it('takes global options anywhere and a command’s own only for it', () => {
    expect(parseInvocation(['--json', 'delivery', 'x', '--stack', 'prod', '--body'])).toMatchObject({
      command: 'delivery',
      positionals: ['x'],
      values: { body: true },
      json: true,
      stack: 'prod',
    });
    expect(() => parseInvocation(['deliveries', '--body'])).toThrow(UsageError);
    expect(() => parseInvocation(['delivery', 'a', 'b'])).toThrow(UsageError);
    for (const command of ['replay', 'delivery', 'connection', 'delete-user'])
      expect(() => parseInvocation([command, ' '])).toThrow(/got an empty argument/);
    expect(() => parseInvocation(['deliveries', '--status'])).toThrow(UsageError);
    expect(() => parseInvocation(['deliveries', '--stack', ''])).toThrow(UsageError);
    expect(parseInvocation(['deliveries', '--stack', 'prod', '--region', 'eu-west-1'])).toMatchObject({
      stack: 'prod',
      region: 'eu-west-1',
    });
    // A region is for a deployed stack; the local one has none to choose.
    expect(() => parseInvocation(['deliveries', '--region', 'eu-west-1'])).toThrow(/--region .*--stack/);
    expect(() => parseInvocation(['deliveries', '--stack', 'prod', '--region', ' '])).toThrow(UsageError);
  });
});

describe('human output', () => {
  it('writes every control and bidi character as an escape, keeping line breaks only in a whole view', () => {
    const hostile = 'a\u001b]52;c;SGk=\u0007b\u009b2J\u202ec\u2067d\u200e\u200f\u061c\u007f\r\t\ne\u0000';
    expect(printable(hostile)).toBe(
      'a\\u001b]52;c;SGk=\\u0007b\\u009b2J\\u202ec\\u2067d\\u200e\\u200f\\u061c\\u007f\\r\\t\\ne\\u0000',
    );
    expect(printable('one\ntwo\u202e', { lines: true })).toBe('one\ntwo\\u202e');
    // The line and paragraph separators break a row as a newline would.
    expect(printable('row\u2028two\u2029')).toBe('row\\u2028two\\u2029');
    // Letters of any script are no controls: shown as they are.
    expect(printable('Zoë שלום 東京')).toBe('Zoë שלום 東京');
  });

  it('escapes cells before measuring them, so a table stays one line per row and aligned', () => {
    const drawn = table(
      [
        { id: 'a\u202eb', type: 'x\ny' },
        { id: 'plain', type: 'z' },
      ],
      ['id', 'type'],
    );
    expect(drawn.split('\n')).toEqual([
      'id        type',
      '--------  ----',
      'a\\u202eb  x\\ny',
      'plain     z',
    ]);
    expect(fields([['type', '\u001b[2J']])).toBe('type  \\u001b[2J');
  });

  it('counts in words that agree', () => {
    expect(count(1, 'delivery', 'deliveries')).toBe('1 delivery');
    expect(count(0, 'delivery', 'deliveries')).toBe('0 deliveries');
    expect(count(2, 'Terra user', 'Terra users')).toBe('2 Terra users');
  });
});

describe('the progress line', () => {
  const stream = (isTTY: boolean) => {
    const written: string[] = [];
    return {
      written,
      stream: {
        isTTY,
        columns: 80,
        write: (text: string) => written.push(text),
      } as unknown as NodeJS.WriteStream,
    };
  };

  it('draws on a terminal and clears itself', () => {
    const { written, stream: tty } = stream(true);
    const progress = progressOn(tty);
    progress.update('Replaying', 5, 5);
    progress.end();
    expect(written[0]).toContain('Replaying [########################] 5/5');
    expect(written.at(-1)).toBe('\r\x1b[K');
  });

  it('stays silent when stderr is no terminal', () => {
    const { written, stream: pipe } = stream(false);
    const progress = progressOn(pipe);
    progress.update('Replaying', 1, 5);
    progress.end();
    expect(written).toEqual([]);
  });
});
