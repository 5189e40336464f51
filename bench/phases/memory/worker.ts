import { pathToFileURL } from 'node:url';
import { drive } from '../../support/drive.ts';
import { webhookEvent } from '../../support/events.ts';
import { round } from '../../support/stats.ts';

/**
 * Child of the memory phase, bundled to plain JavaScript and run on Node 22 with `--expose-gc`, in the
 * environment the stack gives the webhook (DynamoDB Local, the secret and S3 stand-ins): imports the
 * webhook bundle exactly as built for Lambda and runs the batches the parent sends at a fixed
 * concurrency, sampling memory after each. Only the driver and the bundle live in this process, as
 * in a Lambda environment; the parent generates and signs the deliveries.
 */
export interface SignedDelivery {
  body: string;
  headers: Record<string, string>;
}

export type MemoryMessage =
  | { kind: 'part'; deliveries: SignedDelivery[]; last: boolean; sample: boolean }
  | { kind: 'done' };

export interface MemorySample {
  events: number;
  /** Resident set after a full GC. */
  rssMb: number;
  /** Live heap after a full GC. */
  heapUsedMb: number;
  /** This batch's answers by status. */
  answers: Record<string, number>;
}

type Handler = (event: unknown) => Promise<{ statusCode: number }>;
const mb = (bytes: number) => round(bytes / 1024 / 1024, 1);
const collect = (globalThis as { gc?: () => void }).gc;
const send = (message: unknown) => new Promise<void>((done) => process.send?.(message, () => done()));

const { bundle, concurrency } = JSON.parse(process.argv[2] ?? '{}') as {
  bundle: string;
  concurrency: number;
};
const statuses: Record<string, number> = {};
let done = 0;
let measuredMs = 0;
let measuredEvents = 0;

async function runBatch(handler: Handler, deliveries: SignedDelivery[], sample: boolean) {
  const answers: Record<string, number> = {};
  const run = await drive(deliveries, concurrency, async (delivery) => {
    const answer = await handler(webhookEvent(delivery.body, delivery.headers));
    answers[answer.statusCode] = (answers[answer.statusCode] ?? 0) + 1;
    if (sample) statuses[answer.statusCode] = (statuses[answer.statusCode] ?? 0) + 1;
  });
  done += deliveries.length;
  if (sample) {
    measuredMs += run.elapsedMs;
    measuredEvents += deliveries.length;
  }
  collect?.();
  const memory = process.memoryUsage();
  return {
    events: done,
    rssMb: mb(memory.rss),
    heapUsedMb: mb(memory.heapUsed),
    answers,
  } satisfies MemorySample;
}

try {
  const { handler } = (await import(pathToFileURL(bundle).href)) as { handler: Handler };
  let pending: SignedDelivery[] = [];
  process.on('message', (message: MemoryMessage) => {
    if (message.kind === 'part') {
      pending.push(...message.deliveries);
      if (!message.last) return;
      const batch = pending;
      pending = [];
      runBatch(handler, batch, message.sample)
        .then((sample) => send({ kind: 'sampled', sample }))
        .catch(async (error: Error) => {
          await send({ kind: 'error', error: error.stack ?? String(error) });
          process.exit(1);
        });
      return;
    }
    void send({
      kind: 'result',
      node: process.version,
      gc: collect !== undefined,
      // maxRSS is in kilobytes: the true high-water mark, between samples included.
      peakRssMb: round(process.resourceUsage().maxRSS / 1024, 1),
      eventsPerSec: round((measuredEvents / measuredMs) * 1000, 1),
      statuses,
    }).then(() => process.exit(0));
  });
  await send({ kind: 'ready' });
} catch (error) {
  await send({ kind: 'error', error: (error as Error).stack ?? String(error) });
  process.exit(1);
}
