import type { Results } from './results.ts';
import type { TargetRow, Unit } from './targets.ts';

/**
 * `npm run bench`'s stdout: one line on the run, one table of the targets, and where the rest is. A
 * reader compares runs by the ratios: the floor is measured in the same run, on the same machine.
 */
function table(headers: readonly string[], rows: readonly string[][], right: readonly number[]): string {
  const text = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...text.map((row) => (row[i] ?? '').length)));
  const line = (row: readonly string[]) =>
    row
      .map((cell, i) => (right.includes(i) ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '─'.repeat(w))), ...rows.map(line)]
    .map((row) => `  ${row}`)
    .join('\n');
}

function amount(value: number | undefined, unit: Unit, sign = false): string {
  if (value === undefined || !Number.isFinite(value)) return '—';
  const signed = (text: string) => (sign && value >= 0 ? `+${text}` : text.replace('-', '−'));
  switch (unit) {
    case '×':
      return signed(`${value.toFixed(2)}×`);
    case 'ms':
      return signed(`${value.toFixed(1)} ms`);
    case '/s':
      return signed(`${value.toFixed(1)}/s`);
    case 'MB':
      return signed(`${value.toFixed(1)} MB`);
    case 'USD':
      return value < 0 ? `−$${(-value).toFixed(2)}` : `$${value.toFixed(2)}`;
    case 'WU':
      return signed(`${value.toFixed(1)} WU`);
    case 'calls':
      return signed(`${value}`);
  }
}

function cells(row: TargetRow): string[] {
  const unit = row.measuredUnit ?? row.unit;
  const verdict =
    row.met === null
      ? `not measured: ${row.unmeasured}`
      : row.met
        ? `met, ${amount(row.margin ?? Number.NaN, row.unit)} to spare`
        : `MISSED by ${amount(-(row.margin ?? Number.NaN), row.unit)}`;
  return [
    row.note ? `${row.what} (${row.note})` : row.what,
    // Growth is signed: a shrinking RSS is a figure too.
    amount(row.measured, unit, row.id === 'memory'),
    amount(row.floor, unit),
    amount(row.ratio, '×'),
    `${row.direction === 'max' ? '≤' : '≥'} ${amount(row.limit, row.unit)}`,
    verdict,
  ];
}

export function render(results: Results): string {
  const m = results.machine;
  const worstLoad = Math.max(
    0,
    ...Object.values(m.loadAverage).flatMap((l) => [l.before[0] ?? 0, l.after[0] ?? 0]),
  );
  const run = [
    `terra-connect bench · ${results.startedAt.slice(0, 16).replace('T', ' ')} UTC · ${results.durationSeconds} s`,
    `${m.cpu} × ${m.cores}`,
    `Node ${m.hostNode}${results.coldStart || results.memory || results.terraClient ? `, ${m.lambdaNode} in the Lambda-like processes` : ''}`,
    // Other work on the machine moves every figure; the ratios to the floor move least.
    `load ≤ ${worstLoad}${worstLoad > m.cores ? ` on ${m.cores} cores: noisy, read the ratios` : ''}`,
    `phases: ${results.knobs.phases.join(', ') || 'none'}`,
  ].join(' · ');
  return [
    run,
    table(['what', 'measured', 'floor', 'ratio', 'target', 'verdict'], results.targets.map(cells), [1, 2, 3]),
    `Everything else (every function, delivery type, phase and cost line; failures): bench/results/latest.json`,
  ].join('\n');
}
