import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { LocalStack } from '#local/stack';
import { createDocumentClient } from '#shared/store/client';
import { eventsFor, eventually, settle } from '../helpers/events.ts';
import { AppUser, startTestStack } from '../helpers/local-stack.ts';
import { signedHeaders } from '../helpers/signing.ts';
import { authSuccess, dataEvent, terraUser } from '../helpers/terra-fixtures.ts';
import { cleanEnv, opsAgainst, runOps } from './run-ops.ts';

/**
 * `npm run ops` against a running local stack: finding deliveries, looking at one, replaying stale
 * ones, a connection's history; and how the CLI answers mistakes (exit 2) and unknown ids (exit 3).
 */
// Every step runs the CLI as a process of its own: a few seconds each.
vi.setConfig({ testTimeout: 120_000 });

let stack: LocalStack;
let ops: ReturnType<typeof opsAgainst>;

beforeAll(async () => {
  stack = await startTestStack();
  ops = opsAgainst(stack.dataDir);
});
afterAll(async () => {
  await stack?.stop();
});

async function deliver(body: string, options: { traceId?: string; timestamp?: number }) {
  const response = await fetch(stack.webhookUrl, {
    method: 'POST',
    headers: signedHeaders(body, { secret: stack.signingSecret, ...options }),
    body,
  });
  await response.arrayBuffer();
  return response.status;
}

const anHourAgo = () => Math.floor(Date.now() / 1000) - 3600;

type Row = Record<string, unknown>;
const idsOf = (json: Row, field = 'deliveries') => (json[field] as Row[]).map((row) => row.event_id);

function archivedFiles(): string[] {
  return readdirSync(stack.archiveDir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

describe('stale deliveries', () => {
  it('lists a stale delivery, replays it into place, and a second replay changes nothing', async () => {
    const user_id = randomUUID();
    const reference_id = `ops-${randomUUID()}`;
    const traceId = `trace-${user_id}`;
    const body = JSON.stringify(authSuccess({ user: terraUser({ user_id, reference_id }) }));
    // Signed an hour ago (Terra retried it late): refused, and kept in quarantine.
    expect(await deliver(body, { traceId, timestamp: anHourAgo() })).toBe(401);
    const user = new AppUser(stack, reference_id);
    expect(await user.connections()).toEqual([]);

    const stale = await ops('deliveries', '--status', 'stale', '--json');
    expect(stale.code).toBe(0);
    expect(stale.json.by).toBe('status');
    expect(stale.json.deliveries).toContainEqual({
      event_id: traceId,
      status: 'stale',
      type: 'auth',
      user_id,
      received_at: expect.any(String),
      outcome: 'outside_tolerance',
      replayed_at: null,
    });

    const replayed = await ops('replay', traceId, '--json');
    expect(replayed.code).toBe(0);
    expect(replayed.json).toMatchObject({ replayed: 1, ok: 1, failed: 0, not_found: 0 });
    expect(replayed.json.results).toEqual([
      {
        event_id: traceId,
        outcome: 'processed',
        http_status: 200,
        previous_status: 'stale',
        status: 'processed',
        replayed_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      },
    ]);
    // The connection is there, and the app heard of it.
    expect(await user.connections()).toEqual([expect.objectContaining({ user_id, status: 'active' })]);
    await eventually(stack, () => {
      expect(eventsFor(stack, { user_id, type: 'terra.connection' })).toHaveLength(1);
    });

    const detail = await ops('delivery', traceId, '--json');
    expect(detail.code).toBe(0);
    expect(detail.json.delivery).toMatchObject({
      event_id: traceId,
      status: 'processed',
      outcome: 'applied',
      user_id,
      reference_id,
    });
    const replayedAt = (detail.json.delivery as Row).replayed_at;
    expect(replayedAt).toEqual((replayed.json.results as Row[])[0]?.replayed_at);
    // The replayed body under the user, and the quarantined copy it came from.
    expect(detail.json.archive).toEqual(
      expect.arrayContaining([
        { role: 'body', key: expect.stringMatching(new RegExp(`^users/${user_id}/`)), bytes: body.length },
        {
          role: 'copy',
          key: expect.stringMatching(new RegExp(`^quarantine/${user_id}/`)),
          bytes: body.length,
        },
      ]),
    );
    expect(idsOf((await ops('deliveries', '--status', 'stale', '--json')).json)).not.toContain(traceId);

    // Again: a duplicate, and nothing moves (not the record, not the archive, not the app's feed).
    await settle(stack);
    const files = archivedFiles();
    const feed = stack.pipeline.feed().length;
    const again = await ops('replay', traceId, '--json');
    expect(again.code).toBe(0);
    expect(again.json.results).toEqual([
      {
        event_id: traceId,
        outcome: 'duplicate',
        previous_status: 'processed',
        status: 'processed',
        replayed_at: replayedAt,
      },
    ]);
    expect((await ops('delivery', traceId, '--json')).json.delivery).toEqual(detail.json.delivery);
    expect(archivedFiles()).toEqual(files);
    await settle(stack);
    expect(stack.pipeline.feed()).toHaveLength(feed);

    // The connection's history, by Terra user and by app user.
    const byUser = await ops('connection', user_id, '--json');
    expect(byUser.code).toBe(0);
    expect(byUser.json).toMatchObject({
      by: 'user_id',
      connections: [{ user_id, state: 'live', status: 'active', reference_id }],
    });
    expect(idsOf(byUser.json)).toEqual([traceId]);
    const byReference = await ops('connection', reference_id, '--json');
    expect(byReference.code).toBe(0);
    expect(byReference.json).toMatchObject({
      by: 'reference_id',
      connections: [{ user_id, status: 'active' }],
    });
    expect(idsOf(byReference.json)).toEqual([traceId]);
  });

  it('replays what --status stale --since selects (a body-hash id too), and nothing twice', async () => {
    const user_id = randomUUID();
    const reference_id = `ops-${randomUUID()}`;
    const traceId = `trace-${user_id}`;
    const body = JSON.stringify(dataEvent('sleep', { user: terraUser({ user_id, reference_id }) }));
    expect(await deliver(body, { traceId, timestamp: anHourAgo() })).toBe(401);
    // Without a trace id the delivery's id is its body's hash, which the replay must find again.
    const untraced = JSON.stringify(dataEvent('daily', { user: terraUser({ user_id, reference_id }) }));
    expect(await deliver(untraced, { timestamp: anHourAgo() })).toBe(401);
    const hashId = `sha256:${createHash('sha256').update(untraced).digest('hex')}`;

    const run = await ops('replay', '--status', 'stale', '--since', '1d', '--json');
    expect(run.code).toBe(0);
    for (const event_id of [traceId, hashId]) {
      expect(run.json.results).toContainEqual({
        event_id,
        outcome: 'processed',
        http_status: 200,
        previous_status: 'stale',
        status: 'processed',
        replayed_at: expect.any(String),
      });
    }
    const detail = await ops('delivery', traceId, '--json');
    expect(detail.json.delivery).toMatchObject({
      status: 'processed',
      data: true,
      replayed_at: expect.any(String),
    });
    await eventually(stack, () => {
      expect(eventsFor(stack, { user_id, type: 'terra.data' })).toHaveLength(2);
    });

    const nothingLeft = await ops('replay', '--status', 'stale', '--since', '1d', '--json');
    expect(nothingLeft.code).toBe(0);
    expect(idsOf(nothingLeft.json, 'results')).not.toContain(traceId);
    expect(idsOf(nothingLeft.json, 'results')).not.toContain(hashId);
  });
});

describe('looking at deliveries', () => {
  it('shows a delivery without its payload, and the raw body only with --body', async () => {
    const user_id = randomUUID();
    const traceId = `trace-${user_id}`;
    const marker = `marker-${randomUUID()}`;
    const body = JSON.stringify(
      dataEvent('activity', {
        user: terraUser({ user_id, reference_id: `ops-${randomUUID()}` }),
        data: [{ metadata: { name: marker, start_time: '2026-07-01T07:04:11.000000+01:00' } }],
      }),
    );
    expect(await deliver(body, { traceId })).toBe(200);

    const plain = await ops('delivery', traceId, '--json');
    expect(plain.code).toBe(0);
    expect(plain.stdout).not.toContain(marker);
    expect(plain.json).not.toHaveProperty('body');
    expect(plain.json.delivery).toMatchObject({
      event_id: traceId,
      status: 'processed',
      type: 'activity',
      user_id,
      bytes: body.length,
    });
    expect(plain.json.delivery).not.toHaveProperty('lease_token');
    expect(plain.json.archive).toEqual([
      {
        role: 'body',
        key: expect.stringMatching(
          new RegExp(`^users/${user_id}/\\d{4}/\\d\\d/\\d\\d/${traceId}\\.[0-9a-f]{16}\\.json$`),
        ),
        bytes: body.length,
      },
    ]);
    const human = await ops('delivery', traceId);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(traceId);
    expect(human.stdout).not.toContain(marker);

    const withBody = await ops('delivery', traceId, '--body', '--json');
    expect(withBody.code).toBe(0);
    expect(withBody.json.body).toEqual({ encoding: 'utf8', text: body });
    expect(withBody.stdout).toContain(marker);

    // Lists carry facts, never a payload: by user through the archive, by type through a scan.
    const byUser = await ops('deliveries', '--user', user_id, '--json');
    expect(byUser.code).toBe(0);
    expect(byUser.json).toMatchObject({ by: 'user', matched: 1, truncated: false });
    expect(byUser.json.deliveries).toEqual([
      {
        event_id: traceId,
        status: 'processed',
        type: 'activity',
        user_id,
        received_at: expect.any(String),
        outcome: 'applied',
        replayed_at: null,
      },
    ]);
    const byType = await ops('deliveries', '--type', 'activity', '--since', '30m', '--json');
    expect(byType.json.by).toBe('scan');
    expect(idsOf(byType.json)).toContain(traceId);
    for (const run of [byUser, byType]) expect(run.stdout).not.toContain(marker);
    const table = await ops('deliveries', '--user', user_id);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(
      /^event_id\s+status\s+type\s+user_id\s+received_at\s+outcome\s+replayed_at$/,
    );
    expect(table.stdout).toContain(traceId);
  });
});

/** Everything the stack holds: both tables' items, the archive's files and their times, Terra's users. */
async function snapshot() {
  const doc = createDocumentClient({ dynamoEndpoint: stack.dynamoEndpoint });
  const scan = async (table: string) => {
    const items: Row[] = [];
    let ExclusiveStartKey: Row | undefined;
    do {
      const page = await doc.send(
        new ScanCommand({ TableName: table, ExclusiveStartKey, ConsistentRead: true }),
      );
      items.push(...((page.Items ?? []) as Row[]));
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    return items.map((item) => JSON.stringify(item)).sort();
  };
  try {
    return {
      connections: await scan(stack.tables.connectionsTable),
      inbox: await scan(stack.tables.inboxTable),
      archive: archivedFiles()
        .map((file) => `${file}@${statSync(file).mtimeMs}`)
        .sort(),
      dataDir: readdirSync(stack.dataDir).sort(),
      terra: stack.sandbox
        ?.users()
        .map((user) => user.user_id)
        .sort(),
    };
  } finally {
    doc.destroy();
  }
}

describe('read-only commands', () => {
  it('write nothing anywhere', async () => {
    const user_id = randomUUID();
    const traceId = `trace-${user_id}`;
    const body = JSON.stringify(
      dataEvent('body', { user: terraUser({ user_id, reference_id: `ops-${randomUUID()}` }) }),
    );
    expect(await deliver(body, { traceId })).toBe(200);
    expect(await deliver(body, { traceId: `stale-${user_id}`, timestamp: anHourAgo() })).toBe(401);
    await settle(stack);
    const before = await snapshot();
    const runs = await Promise.all([
      ops('deliveries', '--json'),
      ops('deliveries', '--status', 'stale', '--json'),
      ops('deliveries', '--user', user_id, '--json'),
      ops('deliveries', '--status', 'processed', '--type', 'body'),
      ops('delivery', traceId, '--json'),
      ops('delivery', traceId, '--body'),
      ops('connection', user_id, '--json'),
      ops('terra-users', '--stale', '--json'),
    ]);
    for (const run of runs) expect(run.code, run.stderr).toBe(0);
    await settle(stack);
    expect(await snapshot()).toEqual(before);
  });
});

describe('replaying what the archive holds', () => {
  /** A quarantined auth delivery of a fresh Terra user for this app user: its id, archived file, bytes. */
  async function quarantined(reference_id: string) {
    const user_id = randomUUID();
    const traceId = `trace-${user_id}`;
    const body = JSON.stringify(authSuccess({ user: terraUser({ user_id, reference_id }) }));
    expect(await deliver(body, { traceId, timestamp: anHourAgo() })).toBe(401);
    const detail = await ops('delivery', traceId, '--json');
    const [archived] = detail.json.archive as Row[];
    const file = join(stack.archiveDir, String(archived?.key));
    expect(readFileSync(file, 'utf8')).toBe(body);
    return { traceId, file, body };
  }

  it('refuses a quarantined body edited or swapped on disk, writing nothing, and replays it once restored', async () => {
    const attacker = `attacker-${randomUUID()}`;
    const victim = new AppUser(stack, `victim-${randomUUID()}`);
    const mine = await quarantined(attacker);
    const theirs = await quarantined(`other-${randomUUID()}`);

    // Edited: the victim's identity put into the attacker's authentic (but late) delivery.
    writeFileSync(mine.file, mine.body.replace(attacker, victim.sub));
    await settle(stack);
    const before = await snapshot();
    const edited = await ops('replay', mine.traceId, '--json');
    expect(edited.code).toBe(1);
    expect((edited.json.error as Row).message).toMatch(/do(es)? not match/);
    expect((edited.json.error as Row).message).toContain(mine.traceId);
    const human = await ops('replay', mine.traceId);
    expect(human.code).toBe(1);
    expect(human.stderr).toContain(mine.traceId);
    await settle(stack);
    expect(await snapshot()).toEqual(before);
    expect(await victim.connections()).toEqual([]);

    // Swapped: each file holds the other delivery's (authentic) bytes; a selection is refused whole.
    writeFileSync(mine.file, theirs.body);
    writeFileSync(theirs.file, mine.body);
    await settle(stack);
    const swappedBefore = await snapshot();
    for (const args of [[mine.traceId], [theirs.traceId], ['--status', 'stale', '--since', '1d']]) {
      const run = await ops('replay', ...args, '--json');
      expect(run.code, args.join(' ')).toBe(1);
      expect((run.json.error as Row).message).toMatch(/do(es)? not match/);
    }
    await settle(stack);
    expect(await snapshot()).toEqual(swappedBefore);

    // Put back as Terra signed them: both replay.
    writeFileSync(mine.file, mine.body);
    writeFileSync(theirs.file, theirs.body);
    const restored = await ops('replay', mine.traceId, theirs.traceId, '--json');
    expect(restored.code, restored.stderr).toBe(0);
    expect((restored.json.results as Row[]).map((row) => row.outcome)).toEqual(['processed', 'processed']);
    expect(await victim.connections()).toEqual([]);
  });
});

describe('what a terminal is shown', () => {
  // What a signed body may carry into a delivery's fields: an OSC 52 clipboard write, clear-screen, a
  // right-to-left override, a C1 CSI, a lone CR that overwrites the line.
  const HOSTILE = '\u001b]52;c;ZWNobyBwd25lZA==\u0007\u001b[2J\u202egnp.exe\u009b31m\rX\u2066\u200f';
  // Any raw control (but the newline that ends a line) or bidi character a terminal would act on.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
  const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

  it('escapes control and bidi characters of delivery fields in every human view; --json stays exact', async () => {
    const user_id = randomUUID();
    const traceId = `trace-${user_id}`;
    const body = JSON.stringify({
      type: `x${HOSTILE}`,
      user: terraUser({ user_id, reference_id: `ops-${randomUUID()}`, provider: `GARMIN${HOSTILE}` }),
    });
    expect(await deliver(body, { traceId })).toBe(200);

    const exact = await ops('delivery', traceId, '--body', '--json');
    expect(exact.json.delivery).toMatchObject({ type: `x${HOSTILE}`, provider: `GARMIN${HOSTILE}` });
    expect(exact.json.body).toEqual({ encoding: 'utf8', text: body });

    const views = await Promise.all([
      ops('deliveries', '--user', user_id),
      ops('deliveries', '--status', 'ignored', '--since', '30m'),
      ops('delivery', traceId),
      ops('delivery', traceId, '--body'),
      ops('connection', user_id),
      ops('delivery', `nobody${HOSTILE}`),
    ]);
    for (const view of views) {
      expect(view.stdout).not.toMatch(RAW);
      expect(view.stderr).not.toMatch(RAW);
    }
    const [list, , one, withBody, , unknown] = views;
    expect(list?.stdout).toContain('x\\u001b]52;c;ZWNobyBwd25lZA==\\u0007\\u001b[2J\\u202egnp.exe');
    expect(one?.stdout).toMatch(/provider\s+GARMIN\\u001b\]52/);
    expect(withBody?.stdout).toContain('\\u009b31m\\rX\\u2066\\u200f');
    expect(unknown?.code).toBe(3);
    expect(unknown?.stderr).toContain('nobody\\u001b]52');
  });

  it('prints every time of a delivery in ISO-8601, and counts in words that agree', async () => {
    const user_id = randomUUID();
    const traceId = `trace-${user_id}`;
    const body = JSON.stringify(
      authSuccess({ user: terraUser({ user_id, reference_id: `ops-${randomUUID()}` }) }),
    );
    expect(await deliver(body, { traceId, timestamp: anHourAgo() })).toBe(401);
    const one = await ops('delivery', traceId);
    for (const field of ['received_at', 'at', 'signed_at', 'expires_at'])
      expect(one.stdout).toMatch(
        new RegExp(`^${field}\\s+\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?Z$`, 'm'),
      );
    const replayed = await ops('replay', traceId);
    expect(replayed.code, replayed.stderr).toBe(0);
    expect(replayed.stdout).toContain('1 delivery: 1 ok, 0 failed, 0 not found');
    const listed = await ops('deliveries', '--user', user_id);
    expect(listed.stdout).toContain('1 of 1 delivery (by the archive layout)');
  });
});

describe('mistakes and unknowns', () => {
  it('answers usage errors with exit 2 (and a JSON error with --json)', async () => {
    const mistakes = [
      ['bogus'],
      ['deliveries', '--since', '3x'],
      ['deliveries', '--status', 'lost'],
      ['deliveries', '--limit', '0'],
      ['deliveries', '--body'],
      ['deliveries', 'extra'],
      ['delivery'],
      ['replay'],
      ['replay', 'some-id', '--status', 'stale'],
      ['replay', '--status', 'processed'],
      ['replay', 'some-id', '--since', '1d'],
      ['connection'],
      ['terra-users', '--yes'],
      // Irreversible, with no terminal to ask on and no --yes.
      ['terra-users', '--deauth'],
      ['delete-user', 'someone'],
      ['deliveries', '--unknown-flag'],
    ];
    const runs = await Promise.all(mistakes.map((args) => ops(...args, '--json')));
    for (const [i, run] of runs.entries()) {
      const args = mistakes[i]?.join(' ');
      expect(run.code, args).toBe(2);
      expect(run.json, args).toEqual({ error: { code: 'usage', message: expect.any(String) } });
    }
    const none = await ops();
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('Exit codes');
  });

  it('answers an unknown event id, connection or app user with exit 3', async () => {
    const unknown = `trace-${randomUUID()}`;
    const delivery = await ops('delivery', unknown, '--json');
    expect(delivery.code).toBe(3);
    expect(delivery.json).toEqual({
      error: { code: 'not_found', message: expect.stringContaining(unknown) },
    });
    const replay = await ops('replay', unknown, '--json');
    expect(replay.code).toBe(3);
    expect(replay.json.results).toEqual([{ event_id: unknown, outcome: 'not_found' }]);
    expect((await ops('connection', unknown, '--json')).code).toBe(3);
    // Reserved items of the inbox are no deliveries.
    expect((await ops('delivery', 'reconcile#checkpoint', '--json')).code).toBe(3);
  });

  it('documents every command and the exit codes in --help', async () => {
    const help = await ops('--help');
    expect(help.code).toBe(0);
    for (const command of [
      'deliveries',
      'delivery <event_id>',
      'replay',
      'connection',
      'redrive',
      'terra-users',
      'delete-user',
    ]) {
      expect(help.stdout).toContain(command);
    }
    for (const line of ['0  done', '1  failed', '2  usage error', '3  not found', '4  partly done']) {
      expect(help.stdout).toContain(line);
    }
    expect(help.stdout).toMatch(/--stale also lists .* no data for\s+the last 30 days/s);
    const one = await ops('replay', '--help');
    expect(one.code).toBe(0);
    expect(one.stdout).toContain('Usage: npm run ops -- replay');
  });

  it('says which setting a deployed stack lacks when no AWS region is set', async () => {
    const run = await runOps(
      ['--stack', 'terra-connect-prod', 'deliveries', '--json'],
      cleanEnv({
        AWS_CONFIG_FILE: '/dev/null',
        AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
        AWS_EC2_METADATA_DISABLED: 'true',
        TERRA_CONNECT_DATA_DIR: mkdtempSync(join(tmpdir(), 'ops-no-region-')),
      }),
    );
    expect(run.code).toBe(1);
    const { message } = run.json.error as { message: string };
    expect(message).toContain('--region');
    expect(message).toContain('AWS_REGION');
    expect(message).toContain('terra-connect-prod');
    expect(message).not.toMatch(/^Error: Region is missing/);
  });

  it('finds no stack where none runs, and not one on another port', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'ops-none-'));
    const none = await runOps(['deliveries', '--json'], cleanEnv({ TERRA_CONNECT_DATA_DIR: empty }));
    expect(none.code).toBe(1);
    expect((none.json.error as Row).message).toContain('No running local stack');
    const port = new URL(stack.apiUrl).port;
    const elsewhere = await runOps(
      ['deliveries', '--json'],
      cleanEnv({ TERRA_CONNECT_DATA_DIR: stack.dataDir, PORT: String(Number(port) === 1 ? 2 : 1) }),
    );
    expect(elsewhere.code).toBe(1);
    expect((elsewhere.json.error as Row).message).toContain(`not on PORT=`);
    const here = await runOps(
      ['deliveries', '--json'],
      cleanEnv({ TERRA_CONNECT_DATA_DIR: stack.dataDir, PORT: port }),
    );
    expect(here.code).toBe(0);
  });
});
