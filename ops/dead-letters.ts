import {
  appendFileSync,
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { DEAD_LETTER_FILE, envelopeOf } from '#local/pipeline';
import type { BusEvent } from '#shared/events/bus-events';
import type { OnProgress } from '#shared/operations/ports';
import {
  asBusEvent,
  type RedriveResult,
  type RedriveSummary,
  redriveEvents,
  summary,
} from '#shared/operations/redrive';
import { EXIT, OpsError } from './errors.ts';

/**
 * Local redrive: the lines of `<data dir>/dead-letters.jsonl` (one event per line, with why and when it
 * failed) POSTed again, as EventBridge envelopes, to the event target. The file is moved aside first,
 * so the running stack keeps appending to a fresh one meanwhile; what still fails is appended back.
 * A run that was interrupted leaves its batch aside, and the next run takes it up first.
 */
const TAKEN = '.redriving';
const LOCK = `${DEAD_LETTER_FILE}.lock`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** One redrive at a time per data directory; a lock left by a run that died is taken over. */
function lock(dataDir: string): () => void {
  const file = join(dataDir, LOCK);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && alive(holder)) {
        throw new OpsError(
          EXIT.failed,
          `Another redrive (pid ${holder}) is working on ${dataDir}; let it finish.`,
        );
      }
      rmSync(file, { force: true });
    }
  }
  throw new OpsError(EXIT.failed, `Could not take the redrive lock ${file}.`);
}

/** POSTs one envelope; answers why it was not taken, or undefined when it was. */
export function poster(url: string) {
  return async (event: BusEvent): Promise<string | undefined> => {
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(envelopeOf(event)),
        signal: AbortSignal.timeout(5_000),
      });
      await response.arrayBuffer();
      return response.ok ? undefined : `${url} answered ${response.status}`;
    } catch (error) {
      const cause = (error as Error & { cause?: { code?: string } }).cause?.code;
      return `${url} could not be reached (${cause ?? (error as Error).name})`;
    }
  };
}

export interface LocalRedrive extends RedriveSummary {
  to: string;
  /** Lines left in the file for a later run. */
  remaining: number;
}

export async function redriveDeadLetterFile(
  dataDir: string,
  send: (event: BusEvent) => Promise<string | undefined>,
  to: string,
  onProgress?: OnProgress,
): Promise<LocalRedrive> {
  const unlock = lock(dataDir);
  try {
    const file = join(dataDir, DEAD_LETTER_FILE);
    if (existsSync(file)) renameSync(file, `${file}.${Date.now()}-${process.pid}${TAKEN}`);
    const batches = readdirSync(dataDir)
      .filter((name) => name.startsWith(`${DEAD_LETTER_FILE}.`) && name.endsWith(TAKEN))
      .sort()
      .map((name) => join(dataDir, name));
    const lines = batches.flatMap((batch) =>
      readFileSync(batch, 'utf8')
        .split('\n')
        .filter((line) => line.trim() !== ''),
    );
    const parsed = lines.map((line) => {
      try {
        return { line, event: asBusEvent(JSON.parse(line)) };
      } catch {
        return { line, event: undefined };
      }
    });
    const events = parsed.filter(
      (entry): entry is { line: string; event: BusEvent } => entry.event !== undefined,
    );
    const results = await redriveEvents(events, send, onProgress);
    const unreadable: RedriveResult[] = parsed.flatMap((entry, i) =>
      entry.event === undefined
        ? [{ id: `line-${i + 1}`, kind: 'unrecognised', outcome: 'failed', reason: 'not an event' } as const]
        : [],
    );
    const at = new Date().toISOString();
    const keep = [
      ...events.flatMap(({ event }, i) => {
        const result = results[i];
        return result?.outcome === 'redriven'
          ? []
          : [JSON.stringify({ ...event, reason: result?.reason ?? 'failed', at })];
      }),
      ...parsed.filter((entry) => entry.event === undefined).map((entry) => entry.line),
    ];
    // Appended: the stack may have written new dead letters to a fresh file meanwhile.
    if (keep.length > 0) appendFileSync(file, `${keep.join('\n')}\n`);
    for (const batch of batches) rmSync(batch, { force: true });
    return { ...summary([...results, ...unreadable]), to, remaining: keep.length };
  } finally {
    unlock();
  }
}
