import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { DEAD_LETTER_FILE } from '#local/pipeline';
import { identityProblem } from '#shared/ids';
import type { Log } from '#shared/log';
import { findConnection } from '#shared/operations/connections';
import { deleteUserToEnd } from '#shared/operations/deletion';
import { type DeliveryRow, deliveryDetail, findDeliveries } from '#shared/operations/deliveries';
import { redriveQueue } from '#shared/operations/redrive';
import { ArchiveNotAuthentic, REPLAY_OK, replayDeliveries } from '#shared/operations/replay';
import { deauthenticateUsers, STALE_DAYS, unexplainedTerraUsers } from '#shared/operations/terra-users';
import { type DeletionJob, deletionView } from '#shared/privacy/deletion';
import type { DeliveryStatus } from '#shared/webhooks/ports';
import { type CommandName, type Invocation, parseDuration, parseLimit } from './args.ts';
import { SqsDeadLetterQueue } from './aws.ts';
import { poster, redriveDeadLetterFile } from './dead-letters.ts';
import { codeOf, EXIT, type ExitCode, NotFoundError, OpsError, UsageError } from './errors.ts';
import { type Cell, count, fields, table } from './output.ts';
import type { Progress } from './progress.ts';
import type { Target } from './target.ts';
import { deletionOf, publisherOf, storesOf, streamsOf, terraOf } from './wiring.ts';

/**
 * The commands. Each answers its exit code, the JSON document and the human text of its result; the
 * read-only ones (deliveries, delivery, connection, terra-users without --deauth) only ever read.
 */
export interface Context {
  invocation: Invocation;
  /** The stack to work on, resolved when a command first needs it (after its own checks). */
  target: () => Promise<Target>;
  progress: Progress;
  log: Log;
  stdin: NodeJS.ReadStream;
  stderr: NodeJS.WriteStream;
  now: () => number;
  signal: AbortSignal;
}

export interface Outcome {
  code: ExitCode;
  json: Record<string, unknown>;
  human: string;
}

const DELIVERY_COLUMNS = [
  'event_id',
  'status',
  'type',
  'user_id',
  'received_at',
  'outcome',
  'replayed_at',
] as const;
const LISTED_STATUSES: readonly DeliveryStatus[] = [
  'failed',
  'stale',
  'received',
  'ignored',
  'parked',
  'processed',
];
const REPLAYABLE: readonly DeliveryStatus[] = ['stale', 'failed', 'received'];
const DEFAULT_SCAN_MS = 86_400_000;

const rows = (deliveries: readonly DeliveryRow[]) => deliveries as unknown as Array<Record<string, Cell>>;

function statusOption(
  value: string | undefined,
  allowed: readonly DeliveryStatus[],
): DeliveryStatus | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`--status is one of ${allowed.join(', ')}, not '${value}'`);
  }
  return value as DeliveryStatus;
}

function sinceOption(context: Context): number | undefined {
  const { since } = context.invocation.values;
  return since === undefined ? undefined : context.now() - parseDuration(since);
}

/** Before anything irreversible: `--yes`, or a "y" typed at a terminal; a usage error elsewhere. */
function canConfirm(context: Context, what: string): void {
  if (context.invocation.values.yes) return;
  if (context.stdin.isTTY && context.stderr.isTTY) return;
  throw new UsageError(`${what} cannot be undone: pass --yes to confirm it (no terminal to ask on)`);
}

async function confirmed(context: Context, question: string): Promise<boolean> {
  if (context.invocation.values.yes) return true;
  context.progress.end();
  const prompt = createInterface({ input: context.stdin, output: context.stderr });
  try {
    return /^y(es)?$/i.test((await prompt.question(`${question} [y/N] `)).trim());
  } finally {
    prompt.close();
  }
}

const where = (target: Target) => ({ kind: target.kind, name: target.name });

async function deliveries(context: Context): Promise<Outcome> {
  const { values } = context.invocation;
  const status = statusOption(values.status, LISTED_STATUSES);
  const limit = parseLimit(values.limit, 200);
  const scan = values.user === undefined && (status === undefined || status === 'processed');
  const since = sinceOption(context) ?? (scan ? context.now() - DEFAULT_SCAN_MS : undefined);
  const target = await context.target();
  const stores = storesOf(target);
  const list = await findDeliveries(
    { reader: stores.reader, archive: stores.archive },
    {
      ...(status === undefined ? {} : { status }),
      ...(values.type === undefined ? {} : { type: values.type }),
      ...(values.user === undefined ? {} : { user_id: values.user }),
      ...(since === undefined ? {} : { since }),
      limit,
    },
    context.progress.step('Reading deliveries'),
  );
  const sinceIso = since === undefined ? null : new Date(since).toISOString();
  const how = { status: 'the attention index', user: 'the archive layout', scan: 'a scan' }[list.by];
  const footer = `${list.deliveries.length} of ${count(list.matched, 'delivery', 'deliveries')} (by ${how}${sinceIso ? `, since ${sinceIso}` : ''})${list.truncated ? `; --limit ${limit}` : ''}`;
  return {
    code: EXIT.done,
    json: { target: where(target), since: sinceIso, ...list },
    human: `${table(rows(list.deliveries), DELIVERY_COLUMNS)}\n\n${footer}`,
  };
}

const RECORD_ORDER = [
  'event_id',
  'status',
  'outcome',
  'type',
  'user_id',
  'reference_id',
  'provider',
  'received_at',
  'at',
  'signed_at',
  'replayed_at',
  'attempts',
  'terra_reference',
  'expected_payloads',
  'data',
  'bytes',
  'body_sha256',
  'archive_key',
  'payload_key',
];

/** The record's times kept as epoch numbers (for conditions and TTL), and their unit. */
const EPOCH_FIELDS: Readonly<Record<string, 1 | 1000>> = {
  at: 1,
  signed_at: 1000,
  lease_until: 1,
  expires_at: 1000,
};

/** A record's value as a person reads it: every time in ISO-8601, as `received_at` already is. */
function humanValue(name: string, value: unknown): Cell {
  const unit = EPOCH_FIELDS[name];
  if (unit !== undefined && typeof value === 'number') return new Date(value * unit).toISOString();
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : (value as Cell);
}

/** A record's fields in reading order: the known ones first, anything else after. */
function ordered(record: object): Record<string, unknown> {
  const rank = (name: string) => {
    const at = RECORD_ORDER.indexOf(name);
    return at === -1 ? RECORD_ORDER.length : at;
  };
  return Object.fromEntries(
    Object.entries(record).sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b)),
  );
}

async function delivery(context: Context): Promise<Outcome> {
  const [event_id = ''] = context.invocation.positionals;
  const body = context.invocation.values.body === true;
  const target = await context.target();
  const stores = storesOf(target);
  const detail = await deliveryDetail({ reader: stores.reader, archive: stores.archive }, event_id, { body });
  if (detail === undefined) throw new NotFoundError(`No delivery ${event_id}.`);
  const record = ordered(detail.delivery);
  const lines = [
    fields(Object.entries(record).map(([name, value]) => [name, humanValue(name, value)])),
    '',
    'Archive',
    table(detail.archive as unknown as Array<Record<string, Cell>>, ['role', 'key', 'bytes']),
  ];
  if (body) {
    lines.push('', 'Body', detail.body ? detail.body.text : '(not in the archive)');
    if (detail.payload) lines.push('', 'Payload', detail.payload.text);
  }
  return {
    code: EXIT.done,
    json: {
      target: where(target),
      delivery: record,
      archive: detail.archive,
      ...(body ? { body: detail.body ?? null, ...(detail.payload ? { payload: detail.payload } : {}) } : {}),
    },
    human: lines.join('\n'),
  };
}

async function replay(context: Context): Promise<Outcome> {
  const { values, positionals } = context.invocation;
  const status = statusOption(values.status, REPLAYABLE);
  if (status !== undefined && positionals.length > 0) {
    throw new UsageError('replay takes event ids or --status, not both');
  }
  if (status === undefined && positionals.length === 0) {
    throw new UsageError('replay needs event ids, or --status stale|failed|received to select deliveries');
  }
  if (status === undefined && (values.since ?? values.type ?? values.user) !== undefined) {
    throw new UsageError('--since, --type and --user select deliveries together with --status');
  }
  const since = sinceOption(context);
  const target = await context.target();
  const stores = storesOf(target);
  const ids =
    status === undefined
      ? positionals
      : (
          await findDeliveries(
            { reader: stores.reader, archive: stores.archive },
            {
              status,
              ...(values.type === undefined ? {} : { type: values.type }),
              ...(values.user === undefined ? {} : { user_id: values.user }),
              ...(since === undefined ? {} : { since }),
              limit: Number.POSITIVE_INFINITY,
            },
            context.progress.step('Selecting deliveries'),
          )
        ).deliveries.map((row) => row.event_id);
  const results = await replayDeliveries(
    {
      reader: stores.reader,
      archive: stores.archive,
      receiver: stores.receiver(context.log),
      deliveries: stores.deletions,
    },
    ids,
    context.progress.step('Replaying'),
  ).catch((error: unknown) => {
    if (!(error instanceof ArchiveNotAuthentic)) throw error;
    throw new OpsError(
      EXIT.failed,
      `Replay refused, nothing was replayed: ${error.message}. The archive was written to since Terra's delivery; find out how before replaying anything from it.`,
    );
  });
  const ok = results.filter((result) => REPLAY_OK.has(result.outcome)).length;
  const notFound = results.filter((result) => result.outcome === 'not_found').length;
  const code = results.length > 0 && notFound === results.length ? EXIT.notFound : codeOf(ok, results.length);
  const counts = {
    replayed: results.length,
    ok,
    failed: results.length - ok - notFound,
    not_found: notFound,
  };
  return {
    code,
    json: { target: where(target), ...counts, results },
    human: `${table(results as unknown as Array<Record<string, Cell>>, ['event_id', 'outcome', 'previous_status', 'status', 'replayed_at'])}\n\n${count(counts.replayed, 'delivery', 'deliveries')}: ${ok} ok, ${counts.failed} failed, ${notFound} not found`,
  };
}

async function connection(context: Context): Promise<Outcome> {
  const [id = ''] = context.invocation.positionals;
  const limit = parseLimit(context.invocation.values.limit, 50);
  const target = await context.target();
  const stores = storesOf(target);
  const report = await findConnection(
    { reader: stores.reader, archive: stores.archive },
    id,
    { limit },
    context.progress.step('Reading deliveries'),
  );
  if (report === undefined) throw new NotFoundError(`No connection, nor any delivery, for ${id}.`);
  const connections = report.connections as unknown as Array<Record<string, Cell>>;
  const human = [
    `Connections (by ${report.by})`,
    table(connections, [
      'user_id',
      'state',
      'status',
      'provider',
      'reference_id',
      'updated_at',
      'last_webhook_update',
      'deleted_at',
    ]),
    '',
    `Deliveries (${report.deliveries.length} of ${report.matched}, most recent first)`,
    table(rows(report.deliveries), DELIVERY_COLUMNS),
  ].join('\n');
  return { code: EXIT.done, json: { target: where(target), ...report }, human };
}

/** Whether any dead letter waits: the file, or a batch an interrupted redrive left aside. */
function localDeadLetters(dataDir: string): boolean {
  if (!existsSync(dataDir)) return false;
  return readdirSync(dataDir)
    .filter(
      (name) =>
        name === DEAD_LETTER_FILE || (name.startsWith(`${DEAD_LETTER_FILE}.`) && name.endsWith('.redriving')),
    )
    .some((name) => readFileSync(join(dataDir, name), 'utf8').trim() !== '');
}

async function redrive(context: Context): Promise<Outcome> {
  const target = await context.target();
  let json: Record<string, unknown>;
  let results: Array<{ outcome: string }>;
  if (target.kind === 'local') {
    const dataDir = target.dataDir ?? '';
    const url = target.eventTargetUrl;
    if (url === undefined) {
      if (localDeadLetters(dataDir)) {
        throw new OpsError(
          EXIT.failed,
          'This local stack forwards events nowhere: set EVENT_TARGET_URL to the server the dead letters go to.',
        );
      }
      json = { to: null, results: [], redriven: 0, failed: 0, remaining: 0 };
      results = [];
    } else {
      const run = await redriveDeadLetterFile(dataDir, poster(url), url, context.progress.step('Redriving'));
      json = { ...run };
      results = run.results;
    }
  } else {
    const publisher = publisherOf(target, context.log);
    const queueUrl = target.env.DEAD_LETTER_QUEUE_URL ?? '';
    const run = await redriveQueue(
      {
        queue: new SqsDeadLetterQueue(queueUrl),
        bus: publisher.bus,
        streams: streamsOf(publisher.tables),
        publisher,
      },
      context.progress.step('Redriving'),
    );
    json = { to: target.env.EVENT_BUS_NAME ?? null, from: queueUrl, ...run };
    results = run.results;
  }
  const redriven = results.filter((result) => result.outcome === 'redriven').length;
  return {
    code: results.length === 0 ? EXIT.done : codeOf(redriven, results.length),
    json: { target: where(target), ...json },
    human: `${table(results as unknown as Array<Record<string, Cell>>, ['id', 'kind', 'detail_type', 'outcome', 'reason'])}\n\n${redriven} of ${results.length} redriven`,
  };
}

async function terraUsers(context: Context): Promise<Outcome> {
  const { values } = context.invocation;
  if (values.yes && !values.deauth)
    throw new UsageError('--yes confirms --deauth; there is nothing to confirm');
  if (values.deauth) canConfirm(context, 'Deauthenticating users at Terra');
  const target = await context.target();
  const terra = await terraOf(target);
  const stores = storesOf(target);
  const report = await unexplainedTerraUsers(
    { terra, reader: stores.reader, now: context.now },
    { stale: values.stale === true },
    context.progress.step('Reading Terra users'),
  );
  let users: Array<Record<string, unknown>> = report.users.map((user) => ({ ...user }));
  let code: ExitCode = EXIT.done;
  let deauthenticated: number | undefined;
  if (values.deauth && report.users.length > 0) {
    const question = `Deauthenticate ${count(report.users.length, 'Terra user', 'Terra users')} at Terra? Their data stops; this cannot be undone.`;
    if (!(await confirmed(context, question)))
      throw new OpsError(EXIT.failed, 'Not confirmed: nobody was deauthenticated.');
    const results = await deauthenticateUsers(
      { terra },
      report.users.map((user) => user.user_id),
      context.progress.step('Deauthenticating'),
    );
    const byId = new Map(results.map((result) => [result.user_id, result]));
    users = users.map((user) => {
      const result = byId.get(String(user.user_id));
      return {
        ...user,
        deauth: result?.outcome ?? 'failed',
        ...(result?.error ? { deauth_error: result.error } : {}),
      };
    });
    deauthenticated = results.filter((result) => result.outcome !== 'failed').length;
    code = codeOf(deauthenticated, results.length);
  }
  const columns = [
    'user_id',
    'provider',
    'reason',
    'status',
    'last_data',
    'reference_id',
    ...(values.deauth ? ['deauth'] : []),
  ];
  const footer = `${users.length} of ${count(report.terra_users, 'Terra user', 'Terra users')} unexplained${values.stale ? ` (stale: no data for ${STALE_DAYS} days)` : ''}${deauthenticated === undefined ? '' : `; ${deauthenticated} deauthenticated`}`;
  return {
    code,
    json: {
      target: where(target),
      terra_users: report.terra_users,
      pages: report.pages,
      stale_days: values.stale ? STALE_DAYS : null,
      users,
      ...(deauthenticated === undefined ? {} : { deauthenticated }),
    },
    human: `${table(users as Array<Record<string, Cell>>, columns)}\n\n${footer}`,
  };
}

function deletionLabel(job: DeletionJob, waitingMs: number): [string, number?, number?] {
  if (job.phase === 'deauthorize')
    return ['Deauthenticating at Terra', job.deauthorized.length, job.user_ids.length];
  if (job.phase === 'sweep' && waitingMs > 0) {
    const start = Date.parse(job.tombstoned_at ?? '');
    const end = Date.parse(job.sweep_after ?? '');
    const total = Math.max(1, Math.round((end - start) / 1000));
    return ['Waiting out the grace period (s)', Math.max(0, total - Math.ceil(waitingMs / 1000)), total];
  }
  const labels: Record<string, string> = {
    collect: 'Finding the Terra users',
    tombstone: 'Deleting the records',
    sweep: 'Sweeping deliveries and the archive',
    done: 'Done',
  };
  return [labels[job.phase] ?? job.phase];
}

async function deleteUserCommand(context: Context): Promise<Outcome> {
  const [reference_id = ''] = context.invocation.positionals;
  // Only an identity the API takes can be a person to delete: `.`, `..` or controls never are.
  const problem = identityProblem(reference_id);
  if (problem !== undefined) {
    throw new UsageError(
      `'${reference_id}' is not an app identity the API accepts (it ${problem}): no one with it can exist`,
    );
  }
  canConfirm(context, 'Deleting a user');
  const target = await context.target();
  const deps = await deletionOf(target, context.log);
  if (
    !(await confirmed(
      context,
      `Delete the app user ${reference_id} everywhere (Terra, records, deliveries, archive)?`,
    ))
  ) {
    throw new OpsError(EXIT.failed, 'Not confirmed: nothing was deleted.');
  }
  const job = await deleteUserToEnd(deps, reference_id, {
    signal: context.signal,
    onProgress: (current, waitingMs) => context.progress.update(...deletionLabel(current, waitingMs)),
  });
  const view = deletionView(job);
  const done = job.status === 'done';
  const human = fields(Object.entries(view) as Array<[string, Cell]>);
  return {
    code: done ? EXIT.done : EXIT.partly,
    json: { target: where(target), deletion: view },
    human: done
      ? human
      : `${human}\n\nInterrupted: the deletion is still running. Run delete-user again to finish it.`,
  };
}

export const RUN: Record<CommandName, (context: Context) => Promise<Outcome>> = {
  deliveries,
  delivery,
  replay,
  connection,
  redrive,
  'terra-users': terraUsers,
  'delete-user': deleteUserCommand,
};
