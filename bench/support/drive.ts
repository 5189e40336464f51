import { quantile, round } from './stats.ts';

/**
 * Runs `work` over every item with `concurrency` callers in flight, as that many Lambda environments
 * (or Terra's parallel deliveries) would, and times each call.
 */
export interface Drive {
  events: number;
  elapsedMs: number;
  latencies: number[];
}

export async function drive<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<unknown>,
): Promise<Drive> {
  let next = 0;
  const latencies = new Array<number>(items.length).fill(0);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      for (;;) {
        const i = next++;
        const item = items[i];
        if (i >= items.length || item === undefined) return;
        const t = performance.now();
        await work(item, i);
        latencies[i] = performance.now() - t;
      }
    }),
  );
  return { events: items.length, elapsedMs: performance.now() - started, latencies };
}

export interface Throughput {
  eventsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Mean latency: what Lambda would bill per invocation, on average. */
  meanMs: number;
}

/** Pools several runs: events over total time, percentiles over every latency. */
export function throughput(runs: readonly Drive[]): Throughput {
  const events = runs.reduce((sum, run) => sum + run.events, 0);
  const elapsed = runs.reduce((sum, run) => sum + run.elapsedMs, 0);
  const latencies = runs.flatMap((run) => run.latencies);
  return {
    eventsPerSec: round((events / elapsed) * 1000, 1),
    p50Ms: round(quantile(latencies, 0.5)),
    p99Ms: round(quantile(latencies, 0.99)),
    meanMs: round(latencies.reduce((sum, ms) => sum + ms, 0) / Math.max(1, latencies.length)),
  };
}
