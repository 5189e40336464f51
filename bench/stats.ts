/** Statistics shared by every phase; no imports, so worker bundles stay small. */

/** Linear-interpolated quantile (the common "type 7"), q in [0, 1]. */
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

export const round = (value: number, digits = 2) => Number(value.toFixed(digits));
