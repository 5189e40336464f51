import { type ColdRow, DIR_VARIANT } from './phases/cold-start/measure.ts';
import type { Results } from './results.ts';
import { round } from './support/stats.ts';

/**
 * The bench's targets, each met, missed or not measured; one row of the printed table each. Never
 * "met" without a figure: a phase that did not run, failed or answered wrongly is not measured.
 * Benchmarks never fail on a number: this only reports.
 */
export type Unit = '×' | 'ms' | '/s' | 'MB' | 'USD' | 'WU' | 'calls';

export interface Target {
  id: string;
  what: string;
  limit: number;
  /** `max`: the figure (the ratio, when there is a floor) must not exceed the limit; `min`: reach it. */
  direction: 'max' | 'min';
  /** The limit's unit: × when it bounds the ratio to a floor measured in the same run. */
  unit: Unit;
}

/**
 * Floors, all measured in the same run: for a cold start a fresh process that imports the bare DynamoDB
 * client and sends one PutItem; for throughput and a data delivery two PutItems per event. App routes:
 * the worst HTTP function other than the webhook. Memory: RSS after a full GC, last event against the
 * 1,000th. Cost: bench/cost.ts.
 */
export const TARGETS = [
  {
    id: 'cold-start:webhook',
    what: 'webhook first response, cold',
    limit: 1.25,
    direction: 'max',
    unit: '×',
  },
  {
    id: 'cold-start:app-routes',
    what: 'app route first response, cold',
    limit: 1.1,
    direction: 'max',
    unit: '×',
  },
  { id: 'throughput:8', what: 'webhook throughput, concurrency 8', limit: 0.8, direction: 'min', unit: '×' },
  {
    id: 'throughput:32',
    what: 'webhook throughput, concurrency 32',
    limit: 0.8,
    direction: 'min',
    unit: '×',
  },
  { id: 'data:write-units', what: 'data delivery write units', limit: 2, direction: 'max', unit: 'WU' },
  { id: 'data:round-trips', what: 'data delivery DynamoDB calls', limit: 2, direction: 'max', unit: 'calls' },
  { id: 'memory', what: 'webhook RSS growth after 1,000', limit: 5, direction: 'max', unit: 'MB' },
  { id: 'cost', what: 'cost per 1M deliveries', limit: 7, direction: 'max', unit: 'USD' },
] as const satisfies readonly Target[];

export type TargetId = (typeof TARGETS)[number]['id'];

/** A figure, its floor measured in the same run when there is one, and the ratio the target bounds. */
interface Figure {
  measured: number;
  /** Of `measured` and `floor`; the target's own `unit` is the limit's. */
  measuredUnit: Unit;
  floor?: number;
  ratio?: number;
  /** Which function, or how many events, when the row's name alone does not say. */
  note?: string;
}

export interface TargetRow extends Target, Partial<Figure> {
  met: boolean | null;
  /** Distance to the limit (positive: to spare; negative: missed by), in the limit's unit. */
  margin: number | null;
  /** Why there is no figure. */
  unmeasured?: string;
}

type Measure = (results: Omit<Results, 'targets'>) => Figure | string;

// A phase that failed says so in the run's progress and under `failures`; the row only names it.
const absent = (results: Omit<Results, 'targets'>, phase: string) =>
  results.failures[phase] ? `${phase} failed` : `${phase} not run`;

function coldFigure(row: ColdRow, floorMs: number): Figure | string {
  if (row.problems.length) return `${row.entry}: wrong answers: ${row.problems[0]}`;
  return {
    measured: row.firstResponseMs.median,
    measuredUnit: 'ms',
    floor: floorMs,
    ratio: row.ratioToFloor,
    note: row.entry,
  };
}

const MEASURES: Record<TargetId, Measure> = {
  'cold-start:webhook': (results) => {
    const cold = results.coldStart;
    const row = Object.values(cold?.functions ?? {}).find(
      (fn) => fn.class === 'webhook' && !fn.entry.endsWith(DIR_VARIANT),
    );
    if (!cold || !row) return absent(results, 'cold start');
    // When the S3 write cannot be served here, the same bundle archiving to a directory stands in, named.
    const stand = cold.functions[`${row.entry}${DIR_VARIANT}`];
    const measured = row.problems.length && stand && !stand.problems.length ? stand : row;
    return coldFigure(measured, cold.floor.firstResponseMs.median);
  },
  'cold-start:app-routes': (results) => {
    const cold = results.coldStart;
    if (!cold) return absent(results, 'cold start');
    const routes = Object.values(cold.functions).filter((row) => row.http && row.class !== 'webhook');
    // One wrong answer and the worst is unknown: no figure rather than the worst of the rest.
    const wrong = routes.find((row) => row.problems.length);
    if (wrong) return coldFigure(wrong, cold.floor.firstResponseMs.median);
    const worst = routes.sort((a, b) => b.ratioToFloor - a.ratioToFloor)[0];
    if (!worst) return 'no app route measured';
    const figure = coldFigure(worst, cold.floor.firstResponseMs.median);
    return typeof figure === 'string'
      ? figure
      : { ...figure, note: `${worst.entry}, worst of ${routes.length}` };
  },
  'throughput:8': (results) => throughput(results, 8),
  'throughput:32': (results) => throughput(results, 32),
  'data:write-units': (results) => {
    const data = results.webhook?.byKind.data;
    if (!results.webhook || !data) return absent(results, 'webhook in-process');
    return { measured: data.writeUnits, measuredUnit: 'WU', floor: results.webhook.floorPerEvent.writeUnits };
  },
  'data:round-trips': (results) => {
    const data = results.webhook?.byKind.data;
    if (!results.webhook || !data) return absent(results, 'webhook in-process');
    return {
      measured: data.roundTrips,
      measuredUnit: 'calls',
      floor: results.webhook.floorPerEvent.roundTrips,
    };
  },
  memory: (results) => {
    const memory = results.memory;
    if (!memory) return absent(results, 'memory');
    const answered = Object.values(memory.statuses).reduce((sum, n) => sum + n, 0);
    const ok = memory.statuses['200'] ?? 0;
    if (ok < 0.99 * answered) return `only ${ok} of ${answered} deliveries answered 200`;
    return {
      measured: memory.growthMb,
      measuredUnit: 'MB',
      note: `${memory.rssAfterFirstMb} → ${memory.rssAfterAllMb} MB, ${memory.events} events`,
    };
  },
  cost: (results) =>
    results.cost
      ? { measured: results.cost.totalUsd, measuredUnit: 'USD' }
      : absent(results, 'webhook in-process'),
};

function throughput(results: Omit<Results, 'targets'>, concurrency: number): Figure | string {
  const row = results.webhook?.rows.find((r) => r.concurrency === concurrency);
  if (!row) return absent(results, 'webhook in-process');
  return {
    measured: row.ours.eventsPerSec,
    measuredUnit: '/s',
    floor: row.floor.eventsPerSec,
    ratio: row.ratioToFloor,
  };
}

export function evaluateTargets(results: Omit<Results, 'targets'>): TargetRow[] {
  return TARGETS.map((target) => {
    const figure = MEASURES[target.id](results);
    if (typeof figure === 'string') return { ...target, met: null, margin: null, unmeasured: figure };
    const value = target.unit === '×' ? figure.ratio : figure.measured;
    if (value === undefined || !Number.isFinite(value))
      return { ...target, ...figure, met: null, margin: null, unmeasured: 'no figure' };
    const margin = target.direction === 'max' ? target.limit - value : value - target.limit;
    return { ...target, ...figure, met: margin >= 0, margin: round(margin, 4) };
  });
}
