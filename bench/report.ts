/** Plain-text tables and number formats for `npm run bench`'s stdout. */
export type Cell = string | number;

export function table(headers: string[], rows: Cell[][]): string {
  const text = [headers, ...rows.map((row) => row.map(String))];
  const widths = headers.map((_, i) => Math.max(...text.map((row) => (row[i] ?? '').length)));
  // Numbers (and ratios, sizes) right-aligned; words left-aligned.
  const numeric = headers.map((_, i) =>
    rows.every((row) => /^[-−+]?[\d.,]+\s?(ms|×|KB|MB|%|\/s)?$|^—$/.test(String(row[i] ?? ''))),
  );
  const line = (row: string[]) =>
    row
      .map((cell, i) => (numeric[i] ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(text[0] ?? []), line(widths.map((w) => '─'.repeat(w))), ...text.slice(1).map(line)].join('\n');
}

export const ms = (value: number) => (Number.isFinite(value) ? `${value.toFixed(1)} ms` : '—');
export const times = (value: number) => (Number.isFinite(value) ? `${value.toFixed(2)}×` : '—');
export const kb = (bytes: number) => (bytes > 0 ? `${Math.round(bytes / 1024)} KB` : '—');
export const perSec = (value: number) => (Number.isFinite(value) ? value.toFixed(1) : '—');
export const usd = (value: number) => `$${value < 0.01 ? value.toFixed(4) : value.toFixed(2)}`;
export const signedMs = (value: number) =>
  Number.isFinite(value) ? `${value >= 0 ? '−' : '+'}${Math.abs(value).toFixed(1)} ms` : '—';
