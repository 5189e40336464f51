import { pathToFileURL } from 'node:url';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { signedHeaders } from '../test/helpers/signing.ts';
import { drive } from './drive.ts';
import { round } from './stats.ts';

/**
 * Issue 6 §4, run as its own process with plain Node (esbuild bundles this file; no tsx loader, no
 * delivery generator in the heap): imports the webhook bundle exactly as built for Lambda, configured by
 * the environment the parent gives it (DynamoDB Local, an archive directory), and runs the batches of
 * 1,000 deliveries the parent sends at a fixed concurrency, sampling RSS after each batch and the live
 * heap after a forced GC. Only the driver and the bundle live here, as in a Lambda environment.
 */
interface Config {
  bundle: string;
  concurrency: number;
  secret: string;
}

export interface WireDelivery {
  trace_id: string;
  at: number;
  body: string;
}

/** A batch arrives in parts (small IPC messages keep the transport's own buffers out of the figures). */
export type MemoryMessage = { kind: 'part'; deliveries: WireDelivery[]; last: boolean } | { kind: 'done' };

export interface MemoryResult {
  node: string;
  events: number;
  concurrency: number;
  batches: Array<{ events: number; rssMb: number; heapUsedMb: number }>;
  firstRssMb: number;
  lastRssMb: number;
  peakRssMb: number;
  firstHeapMb: number;
  lastHeapMb: number;
  eventsPerSec: number;
  statuses: Record<string, number>;
}

type Handler = (event: Partial<APIGatewayProxyEventV2>) => Promise<{ statusCode: number }>;
const mb = (bytes: number) => round(bytes / 1024 / 1024, 1);
const collect = (globalThis as { gc?: () => void }).gc;
const reply = (message: unknown) => new Promise<void>((done) => process.send?.(message, () => done()));

const config = JSON.parse(process.argv[2] ?? '{}') as Config;
const statuses: Record<string, number> = {};
const batches: MemoryResult['batches'] = [];
let done = 0;
let elapsed = 0;

async function runBatch(handler: Handler, deliveries: WireDelivery[]): Promise<void> {
  const run = await drive(deliveries, config.concurrency, async (delivery) => {
    const result = await handler({
      headers: signedHeaders(delivery.body, {
        secret: config.secret,
        traceId: delivery.trace_id,
        orderingMs: delivery.at,
      }),
      body: delivery.body,
      isBase64Encoded: false,
    });
    statuses[result.statusCode] = (statuses[result.statusCode] ?? 0) + 1;
  });
  elapsed += run.elapsedMs;
  done += deliveries.length;
  const rssMb = mb(process.memoryUsage.rss());
  collect?.();
  batches.push({ events: done, rssMb, heapUsedMb: mb(process.memoryUsage().heapUsed) });
}

function result(): MemoryResult {
  const first = batches[0];
  const last = batches[batches.length - 1];
  return {
    node: process.version,
    events: done,
    concurrency: config.concurrency,
    batches,
    firstRssMb: first?.rssMb ?? Number.NaN,
    lastRssMb: last?.rssMb ?? Number.NaN,
    // maxRSS is in kilobytes: the process's true high-water mark, between samples included.
    peakRssMb: round(process.resourceUsage().maxRSS / 1024, 1),
    firstHeapMb: first?.heapUsedMb ?? Number.NaN,
    lastHeapMb: last?.heapUsedMb ?? Number.NaN,
    eventsPerSec: round((done / elapsed) * 1000, 1),
    statuses,
  };
}

try {
  const { handler } = (await import(pathToFileURL(config.bundle).href)) as { handler: Handler };
  let pending: WireDelivery[] = [];
  process.on('message', (message: MemoryMessage) => {
    if (message.kind === 'part') {
      pending.push(...message.deliveries);
      if (!message.last) return;
    }
    const batch = pending;
    pending = [];
    const next =
      message.kind === 'part'
        ? runBatch(handler, batch).then(() => reply({ kind: 'sampled', events: done }))
        : reply({ kind: 'result', result: result() }).then(() => process.exit(0));
    next.catch(async (error: Error) => {
      await reply({ kind: 'error', error: error.stack ?? String(error) });
      process.exit(1);
    });
  });
  await reply({ kind: 'ready' });
} catch (error) {
  await reply({ kind: 'error', error: (error as Error).stack ?? String(error) });
  process.exit(1);
}
