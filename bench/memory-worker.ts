import { pathToFileURL } from 'node:url';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { signedHeaders } from '../test/helpers/signing.ts';
import { deliveryStream } from './deliveries.ts';
import { drive } from './drive.ts';
import { round } from './stats.ts';

/**
 * Issue 6 §4, run as its own process with plain Node (esbuild bundles this file; no tsx loader in the
 * heap): imports the webhook bundle exactly as built for Lambda, configured by the environment the
 * parent gives it (DynamoDB Local, an archive directory), and feeds it deliveries in batches of 1,000
 * at a fixed concurrency, sampling RSS after each batch and the live heap after a forced GC.
 */
interface Config {
  bundle: string;
  events: number;
  batch: number;
  concurrency: number;
  secret: string;
}

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

async function main(config: Config): Promise<MemoryResult> {
  const { handler } = (await import(pathToFileURL(config.bundle).href)) as { handler: Handler };
  const stream = deliveryStream({ count: config.events, seed: 7, prefix: `m${process.pid}` });
  const statuses: Record<string, number> = {};
  const batches: MemoryResult['batches'] = [];
  let done = 0;
  let elapsed = 0;
  while (done < config.events) {
    const batch = [];
    for (let i = 0; i < config.batch; i++) {
      const next = stream.next();
      if (next.done) break;
      batch.push(next.value);
    }
    if (batch.length === 0) break;
    const run = await drive(batch, config.concurrency, async (delivery) => {
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
    done += batch.length;
    const rssMb = mb(process.memoryUsage.rss());
    collect?.();
    batches.push({ events: done, rssMb, heapUsedMb: mb(process.memoryUsage().heapUsed) });
  }
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

const config = JSON.parse(process.argv[2] ?? '{}') as Config;
main(config).then(
  (result) => process.send?.({ kind: 'result', result }, () => process.exit(0)),
  (error: Error) =>
    process.send?.({ kind: 'error', error: error.stack ?? String(error) }, () => process.exit(1)),
);
