/**
 * How results are shown: a plain table for people, one JSON document for scripts. Cells are the
 * values given, nothing else: no command passes a body, a secret or a token to either.
 */
export type Cell = string | number | boolean | null | undefined;

function text(value: Cell): string {
  if (value === null || value === undefined || value === '') return '-';
  return String(value).replace(/[\r\n\t]+/g, ' ');
}

export function table(rows: ReadonlyArray<Record<string, Cell>>, columns: readonly string[]): string {
  if (rows.length === 0) return '(none)';
  const cells = rows.map((row) => columns.map((column) => text(row[column])));
  const widths = columns.map((column, i) =>
    Math.max(column.length, ...cells.map((line) => line[i]?.length ?? 0)),
  );
  const line = (values: readonly string[]) =>
    values
      .map((value, i) => (i === values.length - 1 ? value : value.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(columns), line(widths.map((width) => '-'.repeat(width))), ...cells.map(line)].join('\n');
}

/** Label: value lines, for one record. */
export function fields(entries: ReadonlyArray<readonly [string, Cell]>): string {
  const width = Math.max(0, ...entries.map(([label]) => label.length));
  return entries.map(([label, value]) => `${label.padEnd(width)}  ${text(value)}`).join('\n');
}

export function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
