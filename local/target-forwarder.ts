import { appendFileSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { logger } from '#shared/log';
import type { EventEnvelope } from './pipeline.ts';

/**
 * Local mode's delivery of the app's events to EVENT_TARGET_URL (docs/architecture.md, "Local mode").
 *
 * Nothing handed over is lost: each event is written to a journal in the data directory before the
 * stream checkpoint moves past the change that made it, and leaves the journal only once the target took
 * it or it was dead-lettered. A stack that crashes sends what its journal holds on the next start; a
 * stack that stops dead-letters it (for `npm run ops -- redrive`), in order.
 *
 * Order is per Terra user: an event goes out only when no earlier one about the same user waits, so up to
 * CONCURRENCY users are served at once while each one's events arrive in the order they were published.
 * An event the target still refuses after its retries takes the events queued behind it for the same user
 * into the dead letters with it, in order, instead of each waiting out retries of its own.
 */
export const TARGET_QUEUE_FILE = 'event-target-queue.jsonl';

const CONCURRENCY = 8;
/** The pauses between an event's attempts: 8 attempts over about a minute, then the dead letters. */
const RETRY_MS = [500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000];
const ATTEMPT_TIMEOUT_MS = 5_000;
const QUEUE_LIMIT = 10_000;

interface Entry {
  n: number;
  envelope: EventEnvelope;
  lanes: string[];
  sending: boolean;
}

/**
 * The Terra users an event is about: its user, both sides of a reauth, every user of a deletion. Events
 * sharing one go out in order; an event about no user orders with nothing.
 */
export function lanesOf(envelope: EventEnvelope): string[] {
  const detail = (envelope.detail ?? {}) as Record<string, unknown>;
  const users = [
    detail.user_id,
    detail.replaces,
    detail.replaced_by,
    ...(Array.isArray(detail.user_ids) ? detail.user_ids : []),
  ].filter((user): user is string => typeof user === 'string' && user !== '');
  return users.length > 0 ? [...new Set(users)] : [`event:${envelope.id}`];
}

/** One line per event in the dead-letter file, as `npm run ops -- redrive` reads it. */
export function appendDeadLetters(
  file: string,
  envelopes: readonly EventEnvelope[],
  reason: string,
  at = new Date(),
): void {
  if (envelopes.length === 0) return;
  const lines = envelopes.map((envelope) =>
    JSON.stringify({
      detailType: envelope['detail-type'],
      detail: envelope.detail,
      reason,
      at: at.toISOString(),
    }),
  );
  appendFileSync(file, `${lines.join('\n')}\n`);
  // The reason names the target's URL, which may carry a token: it stays in the file, out of the log.
  logger.warn('event target', { outcome: 'dead_lettered', count: envelopes.length });
}

/**
 * The journal: `{n, envelope}` when an event is queued, `{n, done: true}` when it left. Appends only
 * while running; rewritten to what is still open when read and whenever it empties.
 */
class Journal {
  private lines = 0;

  constructor(private readonly file: string) {}

  /** What a previous run left open, oldest first. */
  open(): Array<{ n: number; envelope: EventEnvelope }> {
    if (!existsSync(this.file)) return [];
    const open = new Map<number, EventEnvelope>();
    for (const line of readFileSync(this.file, 'utf8').split('\n')) {
      let record: { n?: unknown; envelope?: EventEnvelope; done?: unknown };
      try {
        record = JSON.parse(line) as typeof record;
      } catch {
        // Empty, or the last line of a run that died writing it. A queued event's change was not yet
        // checkpointed, so the stream publishes it again; a lost `done` only sends its event twice.
        continue;
      }
      if (typeof record.n !== 'number') continue;
      if (record.done === true) open.delete(record.n);
      else if (record.envelope) open.set(record.n, record.envelope);
    }
    const left = [...open].sort(([a], [b]) => a - b).map(([n, envelope]) => ({ n, envelope }));
    // Rewritten now: a line cut short must not swallow the next one appended after it.
    this.rewrite(left);
    return left;
  }

  add(n: number, envelope: EventEnvelope): void {
    appendFileSync(this.file, `${JSON.stringify({ n, envelope })}\n`);
    this.lines++;
  }

  /** Records `ns` as gone; `open` is what is still queued, for when the file is worth rewriting. */
  done(ns: readonly number[], open: ReadonlyMap<number, { envelope: EventEnvelope }>): void {
    if (open.size === 0) {
      this.clear();
      return;
    }
    appendFileSync(this.file, ns.map((n) => `${JSON.stringify({ n, done: true })}\n`).join(''));
    this.lines += ns.length;
    if (this.lines > 2 * open.size + 1_000) {
      this.rewrite([...open].map(([n, { envelope }]) => ({ n, envelope })));
    }
  }

  clear(): void {
    this.rewrite([]);
  }

  private rewrite(open: ReadonlyArray<{ n: number; envelope: EventEnvelope }>): void {
    if (open.length === 0) {
      rmSync(this.file, { force: true });
    } else {
      // Written aside then renamed: a crash leaves the old journal or the new one, never half of one.
      const next = `${this.file}.next`;
      writeFileSync(next, open.map(({ n, envelope }) => `${JSON.stringify({ n, envelope })}\n`).join(''));
      renameSync(next, this.file);
    }
    this.lines = open.length;
  }
}

/** Dead-letters what a run that had a target left in its journal, for a run that has none. */
export function deadLetterJournal(journalFile: string, deadLetterFile: string): void {
  const journal = new Journal(journalFile);
  appendDeadLetters(
    deadLetterFile,
    journal.open().map((entry) => entry.envelope),
    'left queued by an earlier run; EVENT_TARGET_URL is not set now',
  );
  journal.clear();
}

export class TargetForwarder {
  private readonly journal: Journal;
  private readonly deadLetters: string;
  private readonly retryMs: readonly number[];
  /** Queued events by number (so oldest first), and each lane's of them: only a lane's head may go. */
  private readonly queue = new Map<number, Entry>();
  private readonly lanes = new Map<string, Entry[]>();
  private readonly ids = new Set<string>();
  private next = 1;
  private sending = 0;
  private readonly stopping = new AbortController();
  private readonly running = new Set<Promise<void>>();
  private idlers: Array<() => void> = [];

  constructor(
    private readonly url: string,
    options: { journal: string; deadLetters: string; retryMs?: readonly number[] },
  ) {
    this.deadLetters = options.deadLetters;
    this.journal = new Journal(options.journal);
    this.retryMs = options.retryMs ?? RETRY_MS;
    for (const { n, envelope } of this.journal.open()) {
      this.next = Math.max(this.next, n + 1);
      this.enqueue(n, envelope);
    }
    this.pump();
  }

  /** Queues an event; it is in the journal when this returns. */
  push(envelope: EventEnvelope): void {
    if (this.stopping.signal.aborted) {
      appendDeadLetters(this.deadLetters, [envelope], 'published while the stack was stopping');
      return;
    }
    // The stream is read again from the checkpoint after a failure or a crash: the same event once.
    if (this.ids.has(envelope.id)) return;
    if (this.queue.size >= QUEUE_LIMIT) {
      appendDeadLetters(this.deadLetters, [envelope], 'target queue full');
      return;
    }
    const n = this.next++;
    this.journal.add(n, envelope);
    this.enqueue(n, envelope);
    this.pump();
  }

  /** Resolves once nothing is queued: every event delivered or dead-lettered. */
  async idle(): Promise<void> {
    while (this.queue.size > 0 && !this.stopping.signal.aborted) {
      await new Promise<void>((resolve) => this.idlers.push(resolve));
    }
  }

  /** Abandons what is in flight and dead-letters everything still queued, oldest first. */
  async stop(): Promise<void> {
    if (this.stopping.signal.aborted) return;
    this.stopping.abort();
    await Promise.all([...this.running]);
    const left = [...this.queue.values()];
    this.queue.clear();
    appendDeadLetters(
      this.deadLetters,
      left.map((entry) => entry.envelope),
      `the stack stopped before ${this.url} took it`,
    );
    this.lanes.clear();
    this.ids.clear();
    this.journal.clear();
    this.wake();
  }

  private enqueue(n: number, envelope: EventEnvelope): void {
    const entry: Entry = { n, envelope, lanes: lanesOf(envelope), sending: false };
    this.queue.set(n, entry);
    this.ids.add(envelope.id);
    for (const lane of entry.lanes) {
      const waiting = this.lanes.get(lane);
      if (waiting) waiting.push(entry);
      else this.lanes.set(lane, [entry]);
    }
  }

  /** Starts every event at the head of all its lanes, oldest first, up to CONCURRENCY at once. */
  private pump(): void {
    if (this.stopping.signal.aborted || this.sending >= CONCURRENCY) return;
    const heads = new Set<Entry>();
    for (const waiting of this.lanes.values()) {
      const head = waiting[0];
      if (head && !head.sending && head.lanes.every((lane) => this.lanes.get(lane)?.[0] === head)) {
        heads.add(head);
      }
    }
    for (const entry of [...heads].sort((a, b) => a.n - b.n)) {
      if (this.sending >= CONCURRENCY) break;
      entry.sending = true;
      this.sending++;
      const run = this.send(entry).finally(() => {
        this.sending--;
        this.running.delete(run);
        this.pump();
      });
      this.running.add(run);
    }
  }

  private async send(entry: Entry): Promise<void> {
    const outcome = await this.deliver(entry.envelope);
    if (outcome === 'stopped') return;
    const leaving = outcome === 'delivered' ? [entry] : this.behind(entry);
    if (outcome === 'refused') {
      appendDeadLetters(
        this.deadLetters,
        leaving.map((left) => left.envelope),
        `${this.url} did not accept it (or an earlier event of the same Terra user)`,
      );
    }
    this.remove(leaving);
  }

  /**
   * The entry and, transitively, every event queued after it in one of its lanes, oldest first. None of
   * them is in flight: each has an earlier event of its own lane still queued.
   */
  private behind(entry: Entry): Entry[] {
    const found = new Set<Entry>([entry]);
    const work = [entry];
    for (let from = work.pop(); from !== undefined; from = work.pop()) {
      for (const lane of from.lanes) {
        for (const other of this.lanes.get(lane) ?? []) {
          if (other.n <= from.n || found.has(other)) continue;
          found.add(other);
          work.push(other);
        }
      }
    }
    return [...found].sort((a, b) => a.n - b.n);
  }

  private remove(entries: readonly Entry[]): void {
    const leaving = new Set(entries);
    for (const entry of entries) {
      this.ids.delete(entry.envelope.id);
      this.queue.delete(entry.n);
      for (const lane of entry.lanes) {
        const waiting = this.lanes.get(lane) ?? [];
        // A delivered event is its lanes' head: the common case is a shift, not a scan of a long backlog.
        if (waiting[0] === entry) waiting.shift();
        else waiting.splice(0, waiting.length, ...waiting.filter((other) => !leaving.has(other)));
        if (waiting.length === 0) this.lanes.delete(lane);
      }
    }
    this.journal.done(
      entries.map((entry) => entry.n),
      this.queue,
    );
    if (this.queue.size === 0) this.wake();
  }

  private wake(): void {
    for (const idler of this.idlers.splice(0)) idler();
  }

  private async deliver(envelope: EventEnvelope): Promise<'delivered' | 'refused' | 'stopped'> {
    const stopping = this.stopping.signal;
    for (let attempt = 0; attempt <= this.retryMs.length; attempt++) {
      if (stopping.aborted) return 'stopped';
      try {
        const response = await fetch(this.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(envelope),
          signal: AbortSignal.any([stopping, AbortSignal.timeout(ATTEMPT_TIMEOUT_MS)]),
        });
        await response.arrayBuffer();
        if (response.ok) return 'delivered';
      } catch {
        // Unreachable, timed out or stopped: retried below, or left for stop() to dead-letter.
      }
      const pause = this.retryMs[attempt];
      if (pause !== undefined) await sleep(pause, undefined, { signal: stopping }).catch(() => undefined);
    }
    return stopping.aborted ? 'stopped' : 'refused';
  }
}
