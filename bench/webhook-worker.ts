import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { localClient } from '../local/dynamodb.ts';
import { startLocalStack } from '../local/stack.ts';
import { ensureTables } from '../local/tables.ts';
import { createDocumentClient } from '../shared/aws/dynamo.ts';
import { inboxTableInput } from '../shared/aws/tables.ts';
import { type ConnectionEvent, NO_REFERENCE } from '../shared/connections/model.ts';
import { ConnectionStore } from '../shared/connections/store.ts';
import { lowerCaseHeaders, rawBody } from '../shared/http/request.ts';
import { json } from '../shared/http/respond.ts';
import { logger } from '../shared/log.ts';
import type { Archive } from '../shared/webhooks/archive.ts';
import { Inbox } from '../shared/webhooks/inbox.ts';
import { receiveWebhook, type WebhookDeps } from '../shared/webhooks/receive.ts';
import { signedHeaders } from '../test/helpers/signing.ts';
import { authSuccess, terraUser } from '../test/helpers/terra-fixtures.ts';
import { CapacityMeter, type UnitTotals } from './capacity.ts';
import { type BenchDelivery, deliveryMix, kindOf, population } from './deliveries.ts';
import { type Drive, drive, type Throughput, throughput } from './drive.ts';
import { DataWithoutLeaseInbox, keysOnlyConnectionsTable, TouchFirstStore } from './proofs/touch-store.ts';
import { round } from './stats.ts';

/**
 * Child process of `npm run bench` (forked under tsx; its stdout, where the handler logs, goes nowhere).
 * `inprocess`: the webhook handler driven in-process against DynamoDB Local, interleaved with the floor
 * (two PutItems per event), at each concurrency; capacity units counted per delivery kind; a few
 * connects for the cost model. `http`: the local stack (HTTP adapter + the same handlers) for the
 * parent to drive over HTTP. Results go back over IPC.
 */
export interface InProcessConfig {
  endpoint: string;
  secret: string;
  events: number;
  warmup: number;
  concurrencies: number[];
  /** Runs of each side per concurrency, in ABBA order (floor, ours, ours, floor, …). */
  rounds: number;
  connects: number;
  /** Connected users the stream's events are spread over. */
  users: number;
  /** Also run the proof sides (bench/proofs/touch-store.ts). */
  proof: boolean;
}

export interface ConcurrencyResult extends Throughput {
  concurrency: number;
  floor: Throughput;
  proofs: Partial<Record<SideName, Throughput>>;
  outcomes: Record<string, number>;
}

export interface InProcessResult {
  rows: ConcurrencyResult[];
  deliveries: number;
  units: {
    total: UnitTotals;
    byKind: Record<string, UnitTotals & { deliveries: number; commands: Record<string, number> }>;
    byCommand: Record<string, UnitTotals>;
    /** CPU ms this process spends per DynamoDB call, timed at concurrency 1. */
    cpuPerCall: Record<string, number>;
  };
  floorUnits: InProcessResult['units'];
  proofUnits: Partial<Record<SideName, InProcessResult['units']>>;
  connectUnits: Record<string, UnitTotals & { count: number }>;
  /** Node CPU time per delivery at concurrency 1 (the handler's own work, no waiting). */
  cpuMsPerDelivery: number;
  logBytesPerDelivery: number;
  archivePuts: number;
  floorItemBytes: { small: number; record: number };
}

export interface HttpConfig {
  endpoint: string;
  secret: string;
}

type Message =
  | { kind: 'result'; result: InProcessResult }
  | { kind: 'ready'; webhookUrl: string }
  | { kind: 'error'; error: string };

const send = (message: Message) =>
  new Promise<void>((done) => {
    if (process.send) process.send(message, () => done());
    else done();
  });

// Count what the handler logs (Powertools writes JSON lines to stdout), still writing it as Lambda would.
let logBytes = 0;
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  logBytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
  return (write as (chunk: string | Uint8Array, ...args: unknown[]) => boolean)(chunk, ...rest);
}) as typeof process.stdout.write;

/** The archive in memory: counts PUTs and bytes, keeps nothing (S3's latency is not modelled here). */
class CountingArchive implements Archive {
  puts = 0;
  bytes = 0;
  async put(_key: string, body: Buffer): Promise<void> {
    this.puts++;
    this.bytes += body.length;
  }
}

type WebhookEvent = Pick<APIGatewayProxyEventV2, 'headers' | 'body' | 'isBase64Encoded'>;

function toEvent(delivery: BenchDelivery, secret: string): WebhookEvent {
  return {
    headers: {
      ...signedHeaders(delivery.body, { secret, traceId: delivery.trace_id, orderingMs: delivery.at }),
      host: 'abc123.execute-api.eu-west-1.amazonaws.com',
      'user-agent': 'Terra-Webhooks/1.0',
      'x-forwarded-proto': 'https',
    },
    body: delivery.body,
    isBase64Encoded: false,
  };
}

/** One way of receiving: the handler over its own tables, client and capacity meter. */
interface Side {
  meter: CapacityMeter;
  kinds: Map<string, number>;
  outcomes: Map<string, number>;
  archive: CountingArchive;
  deps: WebhookDeps;
  handler: (event: WebhookEvent) => Promise<unknown>;
  cpuMs: number;
  close(): void;
}

/** `ours` as the source has it; `touch` and `lease-free` are the two proofs in bench/proofs/touch-store.ts. */
export type SideName = 'ours' | 'touch' | 'lease-free';
export const PROOF_SIDES: readonly SideName[] = ['touch', 'lease-free'];

function side(
  endpoint: string,
  secret: string,
  tables: { connectionsTable: string; inboxTable: string },
  name: SideName,
): Side {
  // The same client settings the functions use (timeouts, retries, marshalling).
  const doc = createDocumentClient({ dynamoEndpoint: endpoint });
  const meter = new CapacityMeter();
  meter.attach(doc);
  const archive = new CountingArchive();
  const deps: WebhookDeps = {
    signingSecrets: async () => [secret],
    toleranceSeconds: 300,
    archive,
    inbox:
      name === 'lease-free'
        ? new DataWithoutLeaseInbox(doc, tables.inboxTable, { leaseSeconds: 15, ttlDays: 30 })
        : new Inbox(doc, tables.inboxTable, { leaseSeconds: 15, ttlDays: 30 }),
    connections:
      name === 'ours'
        ? new ConnectionStore(doc, tables.connectionsTable)
        : new TouchFirstStore(doc, tables.connectionsTable),
    now: Date.now,
    log: logger,
  };
  const outcomes = new Map<string, number>();
  return {
    meter,
    kinds: new Map(),
    outcomes,
    archive,
    deps,
    cpuMs: 0,
    // functions/terra-webhook.ts, with these deps instead of the environment's.
    handler: async (event) => {
      const result = await receiveWebhook(deps, {
        headers: lowerCaseHeaders(event.headers),
        body: rawBody(event),
      });
      outcomes.set(result.outcome, (outcomes.get(result.outcome) ?? 0) + 1);
      return json(result.status, result.body, result.status === 503 ? { 'retry-after': '5' } : {});
    },
    close: () => doc.destroy(),
  };
}

function unitsOf(meter: CapacityMeter, kinds: Map<string, number>): InProcessResult['units'] {
  const byKind: InProcessResult['units']['byKind'] = {};
  for (const [kind, totals] of Object.entries(meter.scopes())) {
    byKind[kind] = { ...totals, deliveries: kinds.get(kind) ?? 0, commands: meter.calls(kind) };
  }
  return { total: meter.total(), byKind, byCommand: meter.commands(), cpuPerCall: meter.cpuPerCall() };
}

async function inProcess(config: InProcessConfig): Promise<InProcessResult> {
  const suffix = `${process.pid}-${Date.now().toString(36)}`;
  const tables = (name: string) => ({
    connectionsTable: `${name}-${suffix}-connections`,
    inboxTable: `${name}-${suffix}-inbox`,
  });
  const oursTables = tables('bench');
  const floorTables = tables('floor');
  const admin = localClient(config.endpoint);
  await ensureTables(admin, oursTables);
  await ensureTables(admin, floorTables);
  const ours = side(config.endpoint, config.secret, oursTables, 'ours');
  const proofs = new Map<SideName, Side>();
  for (const name of config.proof ? PROOF_SIDES : []) {
    // Both proofs run over a byUserId index that projects keys only.
    const t = tables(name);
    await admin.send(new CreateTableCommand(keysOnlyConnectionsTable(t.connectionsTable)));
    await admin.send(new CreateTableCommand(inboxTableInput(t.inboxTable)));
    proofs.set(name, side(config.endpoint, config.secret, t, name));
  }
  admin.destroy();
  const floorDoc = createDocumentClient({ dynamoEndpoint: config.endpoint });
  const floorMeter = new CapacityMeter();
  floorMeter.attach(floorDoc);
  const floorKinds = new Map<string, number>();
  const floorSmall = (d: BenchDelivery) => ({
    event_id: d.trace_id,
    status: 'processed',
    type: d.type,
    received_at: new Date(d.at).toISOString(),
    expires_at: Math.floor(d.at / 1000) + 30 * 86_400,
    attempts: 1,
  });
  const floorRecord = (d: BenchDelivery, i: number) => ({
    reference_id: `app-user-${i % 500}`,
    user_id: `floor-user-${i % 500}`,
    provider: 'GARMIN',
    status: 'active',
    scopes: ['ACTIVITY_EXPORT', 'HEALTH_EXPORT'],
    created_at: new Date(d.at).toISOString(),
    updated_at: new Date(d.at).toISOString(),
    last_webhook_update: new Date(d.at).toISOString(),
    order_at: d.at,
    last_event_id: d.trace_id,
    version: i,
  });
  // The floor: what any receiver must do per event at least, two dependent writes.
  const floorWork = async (d: BenchDelivery, i: number) => {
    await floorDoc.send(new PutCommand({ TableName: floorTables.inboxTable, Item: floorSmall(d) }));
    await floorDoc.send(new PutCommand({ TableName: floorTables.connectionsTable, Item: floorRecord(d, i) }));
  };

  // Users already connected, as in a running system: data spreads over them, not over a handful.
  const people = population(config.users, `p-${suffix}`);
  let stream = 0;
  const next = (count: number) =>
    deliveryMix({ count, seed: 1000 + stream, prefix: `r${stream++}-${suffix}`, users: people.users });
  const runSide = async (s: Side, concurrency: number, count: number): Promise<Drive> => {
    const deliveries = next(count);
    if (s.meter.enabled)
      for (const d of deliveries) s.kinds.set(kindOf(d), (s.kinds.get(kindOf(d)) ?? 0) + 1);
    const events = deliveries.map((d) => toEvent(d, config.secret));
    const cpu = process.cpuUsage();
    const logged = logBytes;
    const run = await drive(events, concurrency, (event, i) => {
      const d = deliveries[i];
      return s.meter.scope.run(d ? kindOf(d) : 'other', () => s.handler(event));
    });
    const used = process.cpuUsage(cpu);
    s.cpuMs += (used.user + used.system) / 1000;
    if (s === ours) logDuringOurs += logBytes - logged;
    return run;
  };
  let logDuringOurs = 0;
  const runFloor = (concurrency: number, count: number) => {
    if (floorMeter.enabled) floorKinds.set('floor', (floorKinds.get('floor') ?? 0) + count);
    return drive(next(count), concurrency, (d, i) => floorMeter.scope.run('floor', () => floorWork(d, i)));
  };
  const sides = [ours, ...proofs.values()];

  // Warm every side (JIT here, the JVM's in DynamoDB Local) before anything is recorded.
  floorMeter.enabled = false;
  for (const s of sides) {
    s.meter.enabled = false;
    await drive(people.auths, 8, (d) => s.handler(toEvent(d, config.secret)));
  }
  for (const concurrency of [8, 1]) {
    const count = concurrency === 1 ? Math.ceil(config.warmup / 4) : config.warmup;
    await runFloor(concurrency, count);
    for (const s of sides) await runSide(s, concurrency, count);
  }
  for (const s of sides) {
    s.meter.enabled = true;
    s.meter.reset();
    floorMeter.enabled = true;
    floorMeter.reset();
    s.outcomes.clear();
    s.kinds.clear();
  }
  let logBytesOurs = 0;
  const putsBefore = ours.archive.puts;

  let deliveries = 0;
  const rows: ConcurrencyResult[] = [];
  let cpuMsPerDelivery = Number.NaN;
  for (const concurrency of config.concurrencies) {
    const runs = new Map<string, Drive[]>();
    const before = new Map(ours.outcomes);
    ours.cpuMs = 0;
    logDuringOurs = 0;
    for (const meter of [floorMeter, ...sides.map((x) => x.meter)]) meter.timing = concurrency === 1;
    for (let r = 0; r < config.rounds; r++) {
      // ABC CBA: drift in DynamoDB Local (table growth, JIT, a busy neighbour) falls on every side alike.
      const order = ['floor', 'ours', ...proofs.keys()];
      for (const name of r % 2 === 0 ? order : order.reverse()) {
        const s = name === 'ours' ? ours : proofs.get(name as SideName);
        const run = s
          ? await runSide(s, concurrency, config.events)
          : await runFloor(concurrency, config.events);
        runs.set(name, [...(runs.get(name) ?? []), run]);
      }
    }
    logBytesOurs += logDuringOurs;
    const oursRuns = runs.get('ours') ?? [];
    const ourEvents = oursRuns.reduce((sum, run) => sum + run.events, 0);
    // This process's CPU while the handler ran alone: its own work per delivery, waits excluded.
    if (concurrency === 1) cpuMsPerDelivery = round(ours.cpuMs / ourEvents);
    deliveries += ourEvents;
    const delta: Record<string, number> = {};
    for (const [outcome, n] of ours.outcomes) delta[outcome] = n - (before.get(outcome) ?? 0);
    const proofRows: Partial<Record<SideName, Throughput>> = {};
    for (const name of proofs.keys()) proofRows[name] = throughput(runs.get(name) ?? []);
    rows.push({
      concurrency,
      ...throughput(oursRuns),
      floor: throughput(runs.get('floor') ?? []),
      proofs: proofRows,
      outcomes: delta,
    });
  }
  const logBytesPerDelivery = round(logBytesOurs / deliveries, 0);
  const archivePuts = ours.archive.puts - putsBefore;
  const units = unitsOf(ours.meter, ours.kinds);
  const floorUnits = unitsOf(floorMeter, floorKinds);
  const proofUnits: Partial<Record<SideName, InProcessResult['units']>> = {};
  for (const [name, s] of proofs) proofUnits[name] = unitsOf(s.meter, s.kinds);

  // Connect: the callback's store write (as completeCallback applies what Terra confirmed), the auth
  // webhook, and the frontend's list afterwards. Terra's own calls are not modelled here.
  ours.meter.reset();
  for (const meter of [floorMeter, ...sides.map((x) => x.meter)]) meter.timing = false;
  for (let i = 0; i < config.connects; i++) {
    const user = terraUser({ user_id: `connect-${suffix}-${i}`, reference_id: `connect-ref-${suffix}-${i}` });
    const event: ConnectionEvent = {
      user_id: user.user_id,
      reference_id: user.reference_id,
      event_id: `callback:${user.user_id}`,
      at: Date.now(),
      change: { kind: 'authenticated', scopes: ['ACTIVITY_EXPORT', 'HEALTH_EXPORT'] },
      provider: user.provider,
    };
    await ours.meter.scope.run('callback', () => ours.deps.connections.apply([event]));
    const body = JSON.stringify(authSuccess({ user }));
    const delivery: BenchDelivery = {
      type: 'auth',
      trace_id: `connect-trace-${suffix}-${i}`,
      at: Date.now(),
      body,
      duplicate: false,
    };
    await ours.meter.scope.run('auth webhook', () => ours.handler(toEvent(delivery, config.secret)));
    await ours.meter.scope.run('list', () =>
      ours.deps.connections.listByReference(user.reference_id ?? NO_REFERENCE),
    );
  }
  const connectUnits: InProcessResult['connectUnits'] = {};
  for (const [step, totals] of Object.entries(ours.meter.scopes()))
    connectUnits[step] = { ...totals, count: config.connects };

  for (const s of sides) s.close();
  floorDoc.destroy();
  const sample = { at: Date.now(), trace_id: 'x'.repeat(36), type: 'activity', body: '', duplicate: false };
  return {
    rows,
    deliveries,
    units,
    proofUnits,
    floorUnits,
    connectUnits,
    cpuMsPerDelivery,
    logBytesPerDelivery,
    archivePuts,
    floorItemBytes: {
      small: JSON.stringify(floorSmall(sample)).length,
      record: JSON.stringify(floorRecord(sample, 1)).length,
    },
  };
}

async function http(config: HttpConfig): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'terra-bench-http-'));
  const suffix = `${process.pid}-${Date.now().toString(36)}`;
  const stack = await startLocalStack({
    port: 0,
    dataDir,
    inMemory: true,
    dynamoEndpoint: config.endpoint,
    tables: { connectionsTable: `http-${suffix}-connections`, inboxTable: `http-${suffix}-inbox` },
    signingSecret: config.secret,
    // No sandbox: the webhook route never calls Terra.
    terra: { apiUrl: 'http://127.0.0.1:9/api/v2', devId: 'bench', apiKey: 'bench' },
  });
  const stopped = new Promise<void>((done) => process.once('message', () => done()));
  await send({ kind: 'ready', webhookUrl: stack.webhookUrl });
  await stopped;
  await stack.stop();
  rmSync(dataDir, { recursive: true, force: true });
}

const [mode, raw] = process.argv.slice(2);
try {
  if (mode === 'inprocess') await send({ kind: 'result', result: await inProcess(JSON.parse(raw ?? '{}')) });
  else if (mode === 'http') await http(JSON.parse(raw ?? '{}'));
  else throw new Error(`unknown mode ${mode}`);
  process.exit(0);
} catch (error) {
  await send({ kind: 'error', error: (error as Error).stack ?? String(error) });
  process.exit(1);
}
