/**
 * How results are shown: a plain table for people, one JSON document for scripts. Cells are the
 * values given, nothing else: no command passes a body, a secret or a token to either.
 */
export type Cell = string | number | boolean | null | undefined;

/**
 * What a terminal acts on instead of showing: the C0 and C1 controls and DEL (ESC opens OSC 52
 * clipboard writes, clear-screen, cursor moves; a lone CR overwrites a line) and the bidi controls that
 * make text read in another order than it is stored (LRM, RLM, ALM, the embeddings, overrides and
 * isolates), and the line and paragraph separators (U+2028/9) that break a table's row. A delivery's fields are whatever a signed body said, so none of it reaches a terminal raw.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Text as it may reach a terminal: every control and bidi character written as an escape (`\n`,
 * `\u001b`, `\u202e`), so what is shown is what is stored and the terminal does nothing it was not
 * asked to. With `lines`, line breaks are kept (a whole view, a body); a table cell keeps none. Every
 * human-readable output goes through this; `--json` stays exact.
 */
export function printable(value: string, options: { lines?: boolean } = {}): string {
  return value.replace(UNSAFE, (char) =>
    options.lines && char === '\n'
      ? char
      : (NAMED[char] ?? `\\u${(char.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`),
  );
}

function text(value: Cell): string {
  if (value === null || value === undefined || value === '') return '-';
  return printable(String(value));
}

/** `1 delivery`, `2 deliveries`. */
export function count(n: number, singular: string, plural: string): string {
  return `${n} ${n === 1 ? singular : plural}`;
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
