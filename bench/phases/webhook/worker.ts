import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { terraWebhookHandler } from '#shared/handlers/terra-webhook';
import { createDocumentClient } from '#shared/store/client';
import { parseWebhook } from '#shared/terra/events';
import {
  describeMix,
  kindOf,
  type MixDelivery,
  mixOf,
  population,
  terraHeaders,
} from '../../../test/helpers/traffic.ts';
import { CapacityMeter, emptyUsage, meterEveryDocumentClient, type Usage } from '../../support/capacity.ts';
import { childMain } from '../../support/children.ts';
import { type Drive, drive, type Throughput, throughput } from '../../support/drive.ts';
import { freshTables } from '../../support/dynamo.ts';
import { webhookEvent } from '../../support/events.ts';
import { mean, median, round } from '../../support/stats.ts';

/**
 * Child of the webhook phase (run under tsx; its stdout, where the handler logs, goes nowhere): the
 * webhook handler exactly as the function builds it, `terraWebhookHandler(env)`, with an environment
 * pointing at DynamoDB Local and a temporary archive directory, driven in-process with a Terra-like
 * mix at each concurrency, interleaved with the floor (two PutItems per event: a small item and a
 * record) in ABBA order. Every DynamoDB command is metered per delivery (support/capacity.ts).
 */
export interface WebhookConfig {
  endpoint: string;
  secret: string;
  events: number;
  rounds: number;
  warmup: number;
  users: number;
  concurrencies: number[];
}

export interface KindFigures {
  deliveries: number;
  /** Medians per delivery. */
  roundTrips: number;
  writeUnits: number;
  readUnits: number;
  /** Means per delivery (what a bill adds up). */
  meanRoundTrips: number;
  meanWriteUnits: number;
  meanReadUnits: number;
  /** The most common sequence of commands. */
  commands: string;
}

export interface WebhookRow {
  concurrency: number;
  ours: Throughput;
  floor: Throughput;
  /** Median of the per-round ratios of events/s (each round's two runs are adjacent). */
  ratioToFloor: number;
  /** Every round's ratio, to see how much the machine moved. */
  roundRatios: number[];
  outcomes: Record<string, number>;
}

export interface WebhookResult {
  mix: string;
  deliveries: number;
  rows: WebhookRow[];
  byKind: Record<string, KindFigures>;
  all: KindFigures;
  floorPerEvent: KindFigures;
  /** This process's CPU per delivery at concurrency 1: the handler's own work, no waiting. */
  cpuMsPerDelivery: { ours: number; floor: number };
  /** Mean handler time at concurrency 1 (what Lambda bills, before the S3 PUT). */
  meanDurationMs: number;
  logBytesPerDelivery: number;
  /** Mean body size of the deliveries measured. */
  requestBytes: number;
  archive: { putsPerDelivery: number; bytesPerDelivery: number };
  /** What the app would be told (data events and status changes), per delivery, in 64 KB chunks. */
  notifications: { eventsPerDelivery: number; chunksPerDelivery: number };
  retries: number;
}

// Count what the handler logs (Powertools writes JSON lines to stdout), still writing it as Lambda would.
let logBytes = 0;
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  logBytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
  return (write as (chunk: string | Uint8Array, ...args: unknown[]) => boolean)(chunk, ...rest);
}) as typeof process.stdout.write;

function walk(dir: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      const inner = walk(path);
      files += inner.files;
      bytes += inner.bytes;
    } else {
      files++;
      bytes += statSync(path).size;
    }
  }
  return { files, bytes };
}

const mode = (values: readonly string[]) => {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '';
};

function figures(usages: readonly Usage[]): KindFigures {
  const writes = usages.map((u) => u.writeUnits + u.refusedWriteUnits);
  const reads = usages.map((u) => u.readUnits);
  const trips = usages.map((u) => u.calls + u.retries);
  return {
    deliveries: usages.length,
    roundTrips: round(median(trips)),
    writeUnits: round(median(writes)),
    readUnits: round(median(reads)),
    meanRoundTrips: round(mean(trips)),
    meanWriteUnits: round(mean(writes)),
    meanReadUnits: round(mean(reads)),
    commands: mode(usages.map((u) => u.commands.join(' → '))),
  };
}

/** How many notifications, and 64 KB chunks, a processed delivery gives the app. */
function notificationsOf(delivery: MixDelivery): { events: number; chunks: number } {
  const parsed = parseWebhook(JSON.parse(delivery.body), { event_id: delivery.trace_id, at: delivery.at });
  if (parsed.kind === 'data')
    return { events: 1, chunks: Math.max(1, Math.ceil(delivery.body.length / 65_536)) };
  if (parsed.kind === 'connection') return { events: parsed.events.length, chunks: parsed.events.length };
  return { events: 0, chunks: 0 };
}

async function main(raw: unknown) {
  const config = raw as WebhookConfig;
  const meter = new CapacityMeter();
  meterEveryDocumentClient(meter);
  const ours = await freshTables(config.endpoint, 'webhook');
  // The floor writes into the same two tables under keys of its own (floor-…): both sides meet the
  // same DynamoDB Local state. (A separate pair of identical tables ran the floor's calls about three
  // times slower inside this process, for reasons not pinned down; on the same tables they cost what
  // they cost in isolation.)
  const floorTables = ours;
  const archiveDir = mkdtempSync(join(tmpdir(), 'terra-bench-archive-'));
  try {
    // functions/terra-webhook.ts binds this factory to process.env; here it gets its own environment.
    const handler = terraWebhookHandler(
      Object.freeze({
        CONNECTIONS_TABLE: ours.connectionsTable,
        INBOX_TABLE: ours.inboxTable,
        DYNAMODB_ENDPOINT: config.endpoint,
        ARCHIVE_DIR: archiveDir,
        TERRA_SIGNING_SECRET: config.secret,
      }),
    );
    const floorDoc = createDocumentClient({ dynamoEndpoint: config.endpoint });
    const floorWork = async (d: MixDelivery, i: number) => {
      const iso = new Date(d.at).toISOString();
      await floorDoc.send(
        new PutCommand({
          TableName: floorTables.inboxTable,
          Item: {
            event_id: `floor-${d.trace_id}`,
            status: 'processed',
            type: d.type,
            received_at: iso,
            attempts: 1,
          },
        }),
      );
      await floorDoc.send(
        new PutCommand({
          TableName: floorTables.connectionsTable,
          Item: {
            user_id: `floor-user-${i % config.users}`,
            reference_id: `floor-app-user-${i % config.users}`,
            provider: 'GARMIN',
            status: 'active',
            scopes: ['ACTIVITY_EXPORT', 'HEALTH_EXPORT'],
            created_at: iso,
            updated_at: iso,
            last_webhook_update: iso,
            version: i,
          },
        }),
      );
    };

    const people = population(config.users, `p${process.pid}`);
    let stream = 0;
    const next = (count: number) =>
      mixOf({ count, seed: 1000 + stream, prefix: `r${stream++}-${process.pid}`, users: people.users });
    const prepared = (deliveries: MixDelivery[]) =>
      deliveries.map((d) => webhookEvent(d.body, terraHeaders(d, config.secret)));

    const measured: Array<{ kind: string; usage: Usage; delivery: MixDelivery; outcome: string }> = [];
    const floorUsage: Usage[] = [];
    let recording = false;
    const runOurs = async (concurrency: number, count: number, outcomes?: Record<string, number>) => {
      const deliveries = next(count);
      const events = prepared(deliveries);
      return drive(events, concurrency, async (event, i) => {
        const delivery = deliveries[i] as MixDelivery;
        const usage = emptyUsage();
        const answer = await meter.measure(usage, () => handler(event));
        const outcome = String(
          (JSON.parse(answer.body ?? '{}') as { outcome?: string }).outcome ?? answer.statusCode,
        );
        if (outcomes) outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
        if (recording) measured.push({ kind: kindOf(delivery), usage, delivery, outcome });
      });
    };
    const runFloor = (concurrency: number, count: number) => {
      const deliveries = next(count);
      return drive(deliveries, concurrency, async (d, i) => {
        const usage = emptyUsage();
        await meter.measure(usage, () => floorWork(d, i));
        if (recording) floorUsage.push(usage);
      });
    };

    // Users already connected, as in a running system; then warm both sides (JIT here and in the JVM).
    await drive(prepared(people.auths), 8, (event) => handler(event));
    for (const concurrency of [8, 1]) {
      const count = concurrency === 1 ? Math.ceil(config.warmup / 4) : config.warmup;
      await runFloor(concurrency, count);
      await runOurs(concurrency, count);
    }

    const before = walk(archiveDir);
    const logBefore = logBytes;
    recording = true;
    const rows: WebhookRow[] = [];
    const cpu = { ours: Number.NaN, floor: Number.NaN };
    let meanDurationMs = Number.NaN;
    for (const concurrency of config.concurrencies) {
      const oursRuns: Drive[] = [];
      const floorRuns: Drive[] = [];
      const cpuMs = { ours: 0, floor: 0 };
      const outcomes: Record<string, number> = {};
      for (let r = 0; r < config.rounds; r++) {
        // ABBA: drift (table growth, JIT, a busy neighbour) falls on both sides alike.
        for (const side of r % 2 === 0 ? ['floor', 'ours'] : ['ours', 'floor']) {
          const started = process.cpuUsage();
          const run =
            side === 'ours'
              ? await runOurs(concurrency, config.events, outcomes)
              : await runFloor(concurrency, config.events);
          const used = process.cpuUsage(started);
          cpuMs[side as 'ours' | 'floor'] += (used.user + used.system) / 1000;
          (side === 'ours' ? oursRuns : floorRuns).push(run);
        }
      }
      const oursFigures = throughput(oursRuns);
      const floorFigures = throughput(floorRuns);
      if (concurrency === 1) {
        const events = config.rounds * config.events;
        cpu.ours = round(cpuMs.ours / events);
        cpu.floor = round(cpuMs.floor / events);
        meanDurationMs = oursFigures.meanMs;
      }
      const roundRatios = oursRuns.map((run, r) => {
        const floor = floorRuns[r];
        return floor ? round(run.events / run.elapsedMs / (floor.events / floor.elapsedMs)) : Number.NaN;
      });
      rows.push({
        concurrency,
        ours: oursFigures,
        floor: floorFigures,
        ratioToFloor: round(median(roundRatios)),
        roundRatios,
        outcomes,
      });
    }
    recording = false;
    const after = walk(archiveDir);
    const deliveries = measured.length;

    const byKind: Record<string, KindFigures> = {};
    for (const kind of [...new Set(measured.map((m) => m.kind))].sort())
      byKind[kind] = figures(measured.filter((m) => m.kind === kind).map((m) => m.usage));
    let events = 0;
    let chunks = 0;
    for (const m of measured) {
      if (m.outcome !== 'processed') continue;
      const told = notificationsOf(m.delivery);
      events += told.events;
      chunks += told.chunks;
    }
    floorDoc.destroy();
    return {
      kind: 'result',
      result: {
        mix: describeMix(measured.map((m) => m.delivery)),
        deliveries,
        rows,
        byKind,
        all: figures(measured.map((m) => m.usage)),
        floorPerEvent: figures(floorUsage),
        cpuMsPerDelivery: cpu,
        meanDurationMs,
        logBytesPerDelivery: round((logBytes - logBefore) / Math.max(1, deliveries), 0),
        requestBytes: round(mean(measured.map((m) => m.delivery.body.length)), 0),
        archive: {
          putsPerDelivery: round((after.files - before.files) / Math.max(1, deliveries)),
          bytesPerDelivery: round((after.bytes - before.bytes) / Math.max(1, deliveries), 0),
        },
        notifications: {
          eventsPerDelivery: round(events / Math.max(1, deliveries), 3),
          chunksPerDelivery: round(chunks / Math.max(1, deliveries), 3),
        },
        retries: measured.reduce((sum, m) => sum + m.usage.retries, 0),
      } satisfies WebhookResult,
    };
  } finally {
    rmSync(archiveDir, { recursive: true, force: true });
  }
}

await childMain(main);
