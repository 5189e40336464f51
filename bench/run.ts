import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { costPerMillion } from './cost.ts';
import { readKnobs } from './knobs.ts';
import { measureBurst } from './phases/burst.ts';
import { measureColdStart } from './phases/cold-start/measure.ts';
import { measureHttp } from './phases/local-http/measure.ts';
import { measureMemory } from './phases/memory/measure.ts';
import { measureTerraClient } from './phases/terra-client/measure.ts';
import { measureVerify } from './phases/verify.ts';
import { measureWebhook } from './phases/webhook/measure.ts';
import { render } from './report.ts';
import { type Results, writeResults } from './results.ts';
import type { Bundle } from './support/build.ts';
import { stopEverything, stopOnSignals } from './support/children.ts';
import { lambdaNode } from './support/node22.ts';
import { readStack } from './support/stack.ts';
import { evaluateTargets } from './targets.ts';

/**
 * `npm run bench`: runs the phases the knobs ask for (bench/knobs.ts), each in its own module under
 * bench/phases/, then the cost model (bench/cost.ts) and the targets (bench/targets.ts); writes
 * everything to bench/results/latest.json (bench/results.ts) and prints the targets' table
 * (bench/report.ts). A phase that fails is reported and the others still run; the run exits 0 whatever
 * the numbers.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
stopOnSignals();

const started = new Date();
const knobs = readKnobs();
const progress = (line: string) =>
  process.stderr.write(`[bench ${((Date.now() - started.getTime()) / 1000).toFixed(0)} s] ${line}\n`);
const wants = (phase: (typeof knobs.phases)[number]) => knobs.phases.includes(phase);

const failures: Record<string, string> = {};
// Other work on the machine moves every figure; what it was is part of the result.
const load = (): number[] => loadavg().map((value) => Math.round(value * 100) / 100);
const loads: Record<string, { before: number[]; after: number[] }> = {};
async function phase<T>(name: string, run: () => Promise<T>): Promise<T | null> {
  progress(`${name} … (load average ${load().join(' ')})`);
  const before = load();
  try {
    return await run();
  } catch (error) {
    failures[name] = (error as Error).message.split('\n').slice(0, 4).join(' ');
    progress(`${name} failed: ${failures[name]}`);
    return null;
  } finally {
    loads[name] = { before, after: load() };
  }
}

const node = wants('cold') || wants('client') || wants('memory') ? lambdaNode(progress) : undefined;
progress('Reading the stack (cdk synth, no bundling) …');
const stack = readStack();
if (stack.note) progress(stack.note);
const webhookFn = stack.functions.find((fn) => fn.entry === 'terra-webhook');

let bundles = new Map<string, Bundle>();
const coldStart =
  wants('cold') && node
    ? await phase('cold start', async () => {
        const measured = await measureColdStart({
          samples: knobs.samples,
          node,
          secretSource: knobs.secretSource,
          stack,
          log: progress,
        });
        bundles = measured.bundles;
        return measured.result;
      })
    : null;
const terraClient =
  wants('client') && node ? await phase('Terra client', () => measureTerraClient(knobs.samples, node)) : null;
const webhook = wants('webhook')
  ? await phase('webhook in-process', () =>
      measureWebhook({
        events: knobs.webhookEvents,
        rounds: knobs.webhookRounds,
        warmup: knobs.webhookWarmup,
        users: knobs.users,
        concurrencies: knobs.concurrencies,
      }),
    )
  : null;
const http = wants('http')
  ? await phase('webhook over HTTP', () =>
      measureHttp({ events: knobs.httpEvents, users: knobs.users, concurrencies: knobs.concurrencies }),
    )
  : null;
const burst = wants('burst')
  ? await phase('burst', () =>
      measureBurst({ events: knobs.burstEvents, concurrency: knobs.burstConcurrency, users: knobs.users }),
    )
  : null;
const memory =
  wants('memory') && node && webhookFn
    ? await phase('memory', () =>
        measureMemory({
          node,
          webhook: webhookFn,
          ...(bundles.get('terra-webhook') ? { bundle: bundles.get('terra-webhook') } : {}),
          events: knobs.memoryEvents,
          warmup: knobs.memoryWarmup,
          users: knobs.users,
          concurrency: knobs.memoryConcurrency,
          secretSource: knobs.secretSource,
        }),
      )
    : null;
const verify = wants('verify')
  ? await phase('signature verification', () => measureVerify(knobs.verifyMs))
  : null;
await stopEverything();

const cost = webhook && webhookFn ? costPerMillion(webhook, webhookFn, stack.accessLogFormat) : null;

const finished = new Date();
const partial: Omit<Results, 'targets'> = {
  schema: 'terra-connect-bench/2',
  startedAt: started.toISOString(),
  finishedAt: finished.toISOString(),
  durationSeconds: Math.round((finished.getTime() - started.getTime()) / 1000),
  machine: {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGb: Math.round(totalmem() / 1024 ** 3),
    platform: `${platform()} ${release()}`,
    hostNode: process.version,
    lambdaNode: node?.version ?? process.version,
    lambdaNodeNote: node?.note ?? null,
    loadAverage: loads,
  },
  knobs,
  stack: {
    source: stack.source,
    note: stack.note ?? null,
    functions: stack.functions.map(({ entry, http, memoryMb, architecture, dynamo }) => ({
      entry,
      http,
      memoryMb,
      architecture,
      dynamo,
    })),
  },
  coldStart: coldStart && {
    ...coldStart,
    functions: Object.fromEntries(coldStart.functions.map((row) => [row.entry, row])),
  },
  terraClient,
  webhook,
  http,
  burst,
  memory,
  verify,
  cost,
  failures,
};
const results: Results = { ...partial, targets: evaluateTargets(partial) };
writeResults(results);
console.log(render(results));
process.exit(0);
