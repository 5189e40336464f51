/** Statistics shared by every phase; no imports, so worker bundles stay small. */

/** Linear-interpolated quantile (the common "type 7"), q in [0, 1]; NaN for no values. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  const a = sorted[lower] ?? Number.NaN;
  const b = sorted[upper] ?? Number.NaN;
  return a + (b - a) * (position - lower);
}

export const median = (values: readonly number[]) => quantile(values, 0.5);

export const mean = (values: readonly number[]) =>
  values.length === 0 ? Number.NaN : values.reduce((sum, value) => sum + value, 0) / values.length;

/** Rounded for the report; NaN stays NaN (printed as —, written as null). */
export const round = (value: number, digits = 2) => Number(value.toFixed(digits));

export interface Spread {
  median: number;
  p90: number;
}

export const spread = (values: readonly number[]): Spread => ({
  median: round(median(values)),
  p90: round(quantile(values, 0.9)),
});
