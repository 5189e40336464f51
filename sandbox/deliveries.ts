import { randomUUID } from 'node:crypto';
import { type ClientRequest, Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { signPayload } from '#shared/terra/signature';
import type { Delivery } from './delivery-record.ts';
import type { WebhookPayload } from './payloads.ts';
import type { Timers } from './timers.ts';

export type { Delivery };

/**
 * Webhook delivery the way Terra does it: signed, at least once, retried on a schedule, with a trace id and
 * an ordering timestamp that stay the same across retries while the signature is made fresh for each one.
 *
 * Attempts go out one at a time through a single lane, so without chaos the receiver sees events in the
 * order they were emitted (a `user_reauth` before its `auth`); a retry re-enters the lane when its timer
 * fires, which is what reorders deliveries in real life.
 */
export interface DeliverySettings {
  webhookUrl?: string | undefined;
  signingSecret: string;
  retryScheduleMs: readonly number[];
  deliveryTimeoutMs: number;
  chaos?: { duplicateRate?: number; reorderWindowMs?: number } | undefined;
}

export interface EmitOptions {
  /** Default: a fresh UUID. Terra's own for a data request's deliveries (`<reference>:chunk:<i>`…). */
  traceId?: string;
  /** Sent with every attempt, e.g. `terra-reference`; cannot replace the signature or trace headers. */
  headers?: Record<string, string>;
}

/**
 * Looks at a serialized body before it is queued; answers the payload to send in its place (Terra's
 * `s3_payload` for a body too large to go inline), or undefined to send it as it is.
 */
export type Oversize = (body: string) => WebhookPayload | undefined;

interface Job {
  record: Delivery;
  body: string;
  orderingMs: number;
  headers: Record<string, string>;
}

type AttemptResult = { ok: true; status: number } | { ok: false; status?: number; error: string };

// Enough history to debug a session; old finished deliveries fall off first.
const MAX_RECORDS = 1000;

function userIdOf(payload: WebhookPayload): string | undefined {
  for (const key of ['user', 'new_user'] as const) {
    const user = payload[key];
    if (user && typeof user === 'object' && 'user_id' in user && typeof user.user_id === 'string')
      return user.user_id;
  }
  return undefined;
}

const lowerCased = (headers: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));

export class Deliverer {
  readonly #settings: () => DeliverySettings;
  readonly #timers: Timers;
  readonly #log: (line: string) => void;
  readonly #random: () => number;
  readonly #oversize: Oversize;
  // Our own agents without keep-alive: no idle socket outlives a delivery, and stop() can destroy them.
  readonly #httpAgent = new HttpAgent({ keepAlive: false });
  readonly #httpsAgent = new HttpsAgent({ keepAlive: false });
  readonly #inFlight = new Set<ClientRequest>();
  readonly #records: Delivery[] = [];
  readonly #lane: Job[] = [];
  #sending = false;
  #outstanding = 0;
  #waiters: Array<() => void> = [];
  #lastOrderingMs = 0;
  #stopped = false;

  constructor(options: {
    settings: () => DeliverySettings;
    timers: Timers;
    log: (line: string) => void;
    random?: () => number;
    oversize?: Oversize;
  }) {
    this.#settings = options.settings;
    this.#timers = options.timers;
    this.#log = options.log;
    this.#random = options.random ?? Math.random;
    this.#oversize = options.oversize ?? (() => undefined);
  }

  /** Queues a webhook and answers its trace id. Never throws: an unreachable receiver is Terra's problem. */
  emit(payload: WebhookPayload, options: EmitOptions = {}): string {
    // Strictly increasing, so a receiver ordering by this header never sees two events as simultaneous
    // (user_reauth and its auth are emitted within the same millisecond).
    const orderingMs = Math.max(Date.now(), this.#lastOrderingMs + 1);
    this.#lastOrderingMs = orderingMs;
    const traceId = options.traceId ?? randomUUID();
    const headers = lowerCased(options.headers ?? {});
    const inline = JSON.stringify(payload);
    // Decided once, so every retry and duplicate carries the same body (and the same URL).
    const replacement = this.#oversize(inline);
    const body = replacement ? JSON.stringify(replacement) : inline;
    const { duplicateRate = 0, reorderWindowMs = 0 } = this.#settings().chaos ?? {};
    const copies = this.#random() < duplicateRate ? 2 : 1;
    for (let copy = 0; copy < copies; copy++) {
      const record: Delivery = {
        trace_id: traceId,
        type: replacement?.type ?? payload.type,
        attempts: 0,
        status: 'pending',
        created_at: new Date().toISOString(),
      };
      if (replacement) record.payload_type = payload.type;
      const userId = userIdOf(payload);
      if (userId !== undefined) record.user_id = userId;
      const reference = headers['terra-reference'];
      if (reference !== undefined) record.terra_reference = reference;
      this.#remember(record);
      this.#outstanding++;
      const job = { record, body, orderingMs, headers };
      const delay = reorderWindowMs > 0 ? Math.floor(this.#random() * (reorderWindowMs + 1)) : 0;
      if (delay > 0) this.#timers.schedule(delay, () => this.#enqueue(job));
      else this.#enqueue(job);
    }
    return traceId;
  }

  deliveries(): Delivery[] {
    return this.#records.map((record) => ({ ...record }));
  }

  /** Resolves once nothing is pending: every delivery delivered or failed (or the sandbox stopped). */
  idle(): Promise<void> {
    if (this.#outstanding === 0 || this.#stopped) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  stop(): void {
    this.#stopped = true;
    this.#lane.length = 0;
    for (const request of this.#inFlight) request.destroy();
    this.#httpAgent.destroy();
    this.#httpsAgent.destroy();
    this.#wake();
  }

  #remember(record: Delivery): void {
    this.#records.push(record);
    if (this.#records.length <= MAX_RECORDS) return;
    const finished = this.#records.findIndex((candidate) => candidate.status !== 'pending');
    this.#records.splice(finished === -1 ? 0 : finished, 1);
  }

  #enqueue(job: Job): void {
    if (this.#stopped) return;
    this.#lane.push(job);
    void this.#pump();
  }

  async #pump(): Promise<void> {
    if (this.#sending) return;
    this.#sending = true;
    try {
      for (let job = this.#lane.shift(); job && !this.#stopped; job = this.#lane.shift())
        await this.#attempt(job);
    } finally {
      this.#sending = false;
    }
  }

  async #attempt(job: Job): Promise<void> {
    const settings = this.#settings();
    const { record } = job;
    record.attempts++;
    const result: AttemptResult = settings.webhookUrl
      ? await this.#post(settings.webhookUrl, job, settings)
      : { ok: false, error: 'no webhook URL configured' };
    if (this.#stopped) return;
    if (result.status !== undefined) record.last_status = result.status;
    const outcome = result.ok ? String(result.status) : result.error;
    this.#log(`webhook ${record.type} ${record.trace_id} attempt ${record.attempts}: ${outcome}`);
    if (result.ok) return this.#finish(record, 'delivered');
    const delay = settings.retryScheduleMs[record.attempts - 1];
    if (delay === undefined) return this.#finish(record, 'failed');
    this.#timers.schedule(delay, () => this.#enqueue(job));
  }

  #finish(record: Delivery, status: 'delivered' | 'failed'): void {
    record.status = status;
    this.#outstanding--;
    if (this.#outstanding === 0) this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }

  #post(url: string, job: Job, settings: DeliverySettings): Promise<AttemptResult> {
    // Signed afresh for every attempt, as Terra does: a retry hours later must pass a receiver's clock check.
    const t = Math.floor(Date.now() / 1000);
    const signature = `t=${t},v1=${signPayload(settings.signingSecret, t, job.body)}`;
    const headers = {
      ...job.headers,
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(job.body)),
      'terra-signature': signature,
      'x-terra-signature': signature,
      'x-terra-trace-id': job.record.trace_id,
      'x-terra-ordering-timestamp': String(job.orderingMs),
      'user-agent': 'terra-sandbox',
    };
    return new Promise((resolve) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const settle = (result: AttemptResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      let request: ClientRequest;
      try {
        const target = new URL(url);
        const secure = target.protocol === 'https:';
        const send = secure ? httpsRequest : httpRequest;
        request = send(target, {
          method: 'POST',
          headers,
          agent: secure ? this.#httpsAgent : this.#httpAgent,
        });
      } catch (error) {
        settle({ ok: false, error: `cannot send to ${url}: ${(error as Error).message}` });
        return;
      }
      this.#inFlight.add(request);
      request.on('close', () => {
        this.#inFlight.delete(request);
        settle({ ok: false, error: 'connection closed before an answer' });
      });
      timer = setTimeout(() => {
        settle({ ok: false, error: `no answer within ${settings.deliveryTimeoutMs} ms` });
        request.destroy();
      }, settings.deliveryTimeoutMs);
      request.on('response', (response) => {
        response.resume();
        const status = response.statusCode ?? 0;
        settle(
          status >= 200 && status < 300
            ? { ok: true, status }
            : { ok: false, status, error: `HTTP ${status}` },
        );
      });
      request.on('error', (error) => settle({ ok: false, error: error.message }));
      request.end(job.body);
    });
  }
}
