import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { CostModel } from './cost.ts';
import type { Knobs } from './knobs.ts';
import type { BurstResult } from './phases/burst.ts';
import type { ColdRow, ColdStartResult } from './phases/cold-start/measure.ts';
import type { HttpRow } from './phases/local-http/measure.ts';
import type { MemoryResult } from './phases/memory/measure.ts';
import type { ClientRow } from './phases/terra-client/measure.ts';
import type { VerifyRow } from './phases/verify.ts';
import type { WebhookResult } from './phases/webhook/worker.ts';
import { RESULTS_FILE } from './support/paths.ts';
import type { StackFacts } from './support/stack.ts';
import type { TargetRow } from './targets.ts';

/**
 * `bench/results/latest.json`: the same shape every run, and everything the printed table leaves out
 * (every sample's spread, per-function and per-delivery-type figures, HTTP, burst, the cost lines). A
 * phase that did not run (BENCH_PHASES) or failed is `null`, its reason under `failures`; a figure that
 * could not be measured is `null`.
 */
export interface Results {
  schema: 'terra-connect-bench/2';
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  machine: {
    cpu: string;
    cores: number;
    memoryGb: number;
    platform: string;
    hostNode: string;
    /** The Node the cold starts and the memory run used (Lambda's major, 22, unless noted). */
    lambdaNode: string;
    lambdaNodeNote: string | null;
    /** 1, 5 and 15-minute load averages before and after each phase: other work on the machine. */
    loadAverage: Record<string, { before: number[]; after: number[] }>;
  };
  knobs: Knobs;
  stack: {
    source: StackFacts['source'];
    note: string | null;
    functions: Array<{
      entry: string;
      http: boolean;
      memoryMb: number;
      architecture: string;
      dynamo: boolean;
    }>;
  } | null;
  coldStart:
    | (Omit<ColdStartResult, 'functions'> & {
        /** By entry: firstResponseMs, importMs, ratioToFloor (of the first response), bytes, zipBytes, … */
        functions: Record<string, ColdRow>;
      })
    | null;
  /** Our Terra client against terra-api, import only (README, "Terra client"). */
  terraClient: ClientRow[] | null;
  webhook: WebhookResult | null;
  http: HttpRow[] | null;
  burst: BurstResult | null;
  memory: MemoryResult | null;
  verify: VerifyRow[] | null;
  /** Per 1M deliveries at the measured mix; its per-delivery inputs are the webhook phase's means. */
  cost: CostModel | null;
  /** The printed table's rows, unformatted. */
  targets: TargetRow[];
  failures: Record<string, string>;
}

export function writeResults(results: Results): string {
  mkdirSync(dirname(RESULTS_FILE), { recursive: true });
  writeFileSync(RESULTS_FILE, `${JSON.stringify(results, null, 2)}\n`);
  return RESULTS_FILE;
}
