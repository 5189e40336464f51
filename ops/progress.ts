import type { OnProgress } from '#shared/operations/ports';

/**
 * A progress line on stderr for long runs, only when stderr is a terminal (never in a pipe, a file or
 * a test), so stdout stays the result alone.
 */
export interface Progress {
  /** Reports how far a step is (`done` when counted, `total` when known). */
  update(label: string, done?: number, total?: number): void;
  /** An OnProgress for one labelled step. */
  step(label: string): OnProgress;
  /** Clears the line. */
  end(): void;
}

const WIDTH = 24;
const EVERY_MS = 80;

export function progressOn(stream: NodeJS.WriteStream, enabled = stream.isTTY === true): Progress {
  let shown = false;
  let last = 0;
  const update = (label: string, done?: number, total?: number) => {
    if (!enabled) return;
    const now = Date.now();
    if (now - last < EVERY_MS && !(done !== undefined && total !== undefined && done >= total)) return;
    last = now;
    let line = done === undefined ? label : `${label} ${done}`;
    if (done !== undefined && total !== undefined && total > 0) {
      const filled = Math.round((Math.min(done, total) / total) * WIDTH);
      line = `${label} [${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${done}/${total}`;
    }
    stream.write(`\r${line.slice(0, (stream.columns || 100) - 1)}\x1b[K`);
    shown = true;
  };
  return {
    update,
    step: (label) => (done, total) => update(label, done, total),
    end() {
      if (shown) stream.write('\r\x1b[K');
      shown = false;
    },
  };
}
