import type { ConnectionEvent, ConnectionRecord } from '#shared/connections/model';
import type { ConnectionRepository, TerraPort, TerraUserInfo } from '#shared/connections/ports';
import { applyEvent } from '#shared/connections/transitions';
import type { Log } from '#shared/log';
import type { Archive } from '#shared/webhooks/archive';
import type { Fetched, PayloadFetcher } from '#shared/webhooks/payloads';
import type {
  Claim,
  DeliveryConnections,
  DeliveryFacts,
  DeliveryLedger,
  DeliveryStatus,
  Owner,
} from '#shared/webhooks/ports';

/**
 * In-memory implementations of the receiver's and the callbacks' ports, for fast unit tests (and the
 * mutation run). They behave like the DynamoDB stores in `shared/store/` where the receiver can tell:
 * a record is written once per event id, a claim honours a live lease, a tombstone absorbs everything,
 * a data event only moves `last_webhook_update` forward. The real stores are covered by
 * `test/integration/`. Each fake also keeps a log of what it was asked, so tests can assert on it.
 */

/** One delivery as the fake ledger holds it: the facts as they were when last written. */
export interface LedgerEntry {
  facts: DeliveryFacts;
  status: DeliveryStatus;
  outcome?: string;
  attempts: number;
  lease_token?: string;
  lease_until?: number;
}

export class MemoryLedger implements DeliveryLedger {
  readonly entries = new Map<string, LedgerEntry>();
  readonly calls: string[] = [];
  private tokens = 0;

  constructor(
    private readonly connections: MemoryConnections,
    private readonly options: { now: () => number; leaseMs?: number } = { now: () => 0 },
  ) {}

  async status(event_id: string): Promise<DeliveryStatus | undefined> {
    this.calls.push(`status:${event_id}`);
    return this.entries.get(event_id)?.status;
  }

  async claim(facts: DeliveryFacts): Promise<Claim> {
    this.calls.push(`claim:${facts.event_id}`);
    const now = this.options.now();
    const existing = this.entries.get(facts.event_id);
    // A stale delivery (quarantined, never applied) may be taken by a valid copy or a replay, a failed one
    // by a copy that succeeds.
    if (existing !== undefined && existing.status !== 'stale' && existing.status !== 'failed') {
      if (existing.status !== 'received') return { kind: 'done', status: existing.status };
      if ((existing.lease_until ?? 0) >= now) return { kind: 'in_progress' };
    }
    const token = `lease-${++this.tokens}`;
    this.entries.set(facts.event_id, {
      facts: structuredClone(facts),
      status: 'received',
      attempts: (existing?.attempts ?? 0) + 1,
      lease_token: token,
      lease_until: now + (this.options.leaseMs ?? 15_000),
    });
    return { kind: 'claimed', token };
  }

  async applyAndClose(
    facts: DeliveryFacts,
    token: string,
    events: readonly ConnectionEvent[],
  ): Promise<'applied' | 'lease_lost'> {
    this.calls.push(`applyAndClose:${facts.event_id}`);
    const entry = this.entries.get(facts.event_id);
    if (entry?.lease_token !== token) return 'lease_lost';
    await this.connections.apply(events);
    this.entries.set(facts.event_id, {
      facts: structuredClone(facts),
      status: 'processed',
      outcome: 'applied',
      attempts: entry.attempts,
    });
    return 'applied';
  }

  async release(event_id: string, token: string): Promise<void> {
    this.calls.push(`release:${event_id}`);
    const entry = this.entries.get(event_id);
    if (entry?.lease_token !== token) return;
    delete entry.lease_token;
    entry.lease_until = 0;
  }

  async record(
    facts: DeliveryFacts,
    status: 'processed' | 'ignored',
    outcome: string,
  ): Promise<'recorded' | 'duplicate'> {
    this.calls.push(`record:${facts.event_id}`);
    return this.putOnce(facts, status, outcome);
  }

  async recordFailed(facts: DeliveryFacts, outcome: string): Promise<'recorded' | 'duplicate'> {
    this.calls.push(`recordFailed:${facts.event_id}`);
    const existing = this.entries.get(facts.event_id);
    const open =
      existing === undefined ||
      existing.status === 'stale' ||
      existing.status === 'failed' ||
      (existing.status === 'received' && (existing.lease_until ?? 0) < this.options.now());
    if (!open) return 'duplicate';
    const attempts = (existing?.attempts ?? 0) + 1;
    this.entries.set(facts.event_id, { facts: structuredClone(facts), status: 'failed', outcome, attempts });
    return 'recorded';
  }

  async recordStale(facts: DeliveryFacts): Promise<'recorded' | 'duplicate'> {
    this.calls.push(`recordStale:${facts.event_id}`);
    return this.putOnce(facts, 'stale', 'outside_tolerance');
  }

  /** App users whose deletion finished. */
  readonly deletedReferences = new Set<string>();

  async referenceDeleted(reference_id: string): Promise<boolean> {
    this.calls.push(`referenceDeleted:${reference_id}`);
    return this.deletedReferences.has(reference_id);
  }

  /** App users holding a live claim on SDK connections. */
  readonly sdkClaims = new Set<string>();

  async sdkClaimed(reference_id: string): Promise<boolean> {
    this.calls.push(`sdkClaimed:${reference_id}`);
    return this.sdkClaims.has(reference_id);
  }

  /** Parked deliveries by Terra user, with their events (as the store's `parked#` lists). */
  readonly parked = new Map<string, Array<{ event_id: string; events: ConnectionEvent[] }>>();

  async park(
    facts: DeliveryFacts,
    events: readonly ConnectionEvent[],
    unowned: readonly string[],
  ): Promise<'parked' | 'duplicate' | 'attributed'> {
    this.calls.push(`park:${facts.event_id}`);
    if (unowned.some((user_id) => this.connections.ownerOf(user_id).state !== 'missing')) return 'attributed';
    if (this.putOnce(facts, 'parked', 'unattributed') === 'duplicate') return 'duplicate';
    for (const user_id of unowned) {
      this.parked.set(user_id, [
        ...(this.parked.get(user_id) ?? []),
        { event_id: facts.event_id, events: structuredClone([...events]) },
      ]);
    }
    return 'parked';
  }

  private putOnce(facts: DeliveryFacts, status: DeliveryStatus, outcome: string): 'recorded' | 'duplicate' {
    const existing = this.entries.get(facts.event_id);
    const open =
      existing === undefined || (status !== 'stale' && ['stale', 'failed'].includes(existing.status));
    if (!open) return 'duplicate';
    this.entries.set(facts.event_id, { facts: structuredClone(facts), status, outcome, attempts: 1 });
    return 'recorded';
  }
}

/**
 * The connections table: live records and tombstones of deleted Terra users. Only the parts of
 * `ConnectionRepository` the callbacks use, so that the fake does not follow every new query.
 */
export class MemoryConnections
  implements DeliveryConnections, Pick<ConnectionRepository, 'get' | 'listByReference' | 'apply' | 'scanPage'>
{
  readonly records = new Map<string, ConnectionRecord>();
  readonly tombstones = new Set<string>();
  readonly calls: string[] = [];

  async deleted(user_ids: readonly string[]): Promise<Set<string>> {
    this.calls.push(`deleted:${user_ids.join(',')}`);
    return new Set(user_ids.filter((user_id) => this.tombstones.has(user_id)));
  }

  ownerOf(user_id: string): Owner {
    if (this.tombstones.has(user_id)) return { state: 'deleted', deleted_at: '' };
    const reference_id = this.records.get(user_id)?.reference_id;
    return reference_id === undefined ? { state: 'missing' } : { state: 'owned', reference_id };
  }

  async owners(user_ids: readonly string[]): Promise<Map<string, Owner>> {
    this.calls.push(`owners:${user_ids.join(',')}`);
    return new Map(user_ids.map((user_id) => [user_id, this.ownerOf(user_id)]));
  }

  async touch(
    user_id: string,
    iso: string,
    _reference_id?: string | null,
  ): Promise<
    { state: 'touched' | 'unchanged'; record: ConnectionRecord } | { state: 'deleted' } | { state: 'missing' }
  > {
    this.calls.push(`touch:${user_id}:${iso}`);
    if (this.tombstones.has(user_id)) return { state: 'deleted' };
    const record = this.records.get(user_id);
    if (record === undefined) return { state: 'missing' };
    if (record.last_webhook_update !== undefined && record.last_webhook_update >= iso)
      return { state: 'unchanged', record: structuredClone(record) };
    record.last_webhook_update = iso;
    return { state: 'touched', record: structuredClone(record) };
  }

  async apply(events: readonly ConnectionEvent[]): Promise<Array<ConnectionRecord | undefined>> {
    this.calls.push(`apply:${events.map((event) => `${event.user_id}/${event.change.kind}`).join(',')}`);
    return events.map((event) => {
      if (this.tombstones.has(event.user_id)) return undefined;
      const current = this.records.get(event.user_id);
      // No record without an owner, as the store (docs/decisions/0020).
      if (current?.reference_id === undefined && event.reference_id === null) {
        throw new Error(`no app user owns Terra user ${event.user_id} yet`);
      }
      const next = applyEvent(current, event);
      // A data event's app user owns a Terra user nobody owns yet, as in the store.
      if (next.reference_id === undefined && event.reference_id !== null)
        next.reference_id = event.reference_id;
      if (next.provider === undefined && event.provider !== undefined) next.provider = event.provider;
      this.records.set(event.user_id, next);
      return structuredClone(next);
    });
  }

  async get(user_id: string): Promise<ConnectionRecord | undefined> {
    this.calls.push(`get:${user_id}`);
    if (this.tombstones.has(user_id)) return undefined;
    const record = this.records.get(user_id);
    return record === undefined ? undefined : structuredClone(record);
  }

  async listByReference(reference_id: string): Promise<ConnectionRecord[]> {
    return [...this.records.values()].filter((record) => record.reference_id === reference_id);
  }

  async scanPage(): Promise<{ records: ConnectionRecord[]; next?: string }> {
    return { records: [...this.records.values()] };
  }
}

export class MemoryArchive implements Archive {
  readonly objects = new Map<string, Buffer>();
  readonly location = 'memory';

  async put(key: string, body: Uint8Array): Promise<void> {
    this.objects.set(key, Buffer.from(body));
  }

  async get(key: string): Promise<Buffer | undefined> {
    return this.objects.get(key);
  }

  async list(prefix: string): Promise<string[]> {
    return [...this.objects.keys()].filter((key) => key.startsWith(prefix)).sort();
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.objects.delete(key);
  }

  /** Every key, sorted. */
  keys(): string[] {
    return [...this.objects.keys()].sort();
  }
}

/** Answers every download with `result` (a function for per-URL answers), remembering the URLs. */
export class ScriptedFetcher implements PayloadFetcher {
  readonly urls: string[] = [];

  constructor(private readonly result: Fetched | ((url: string) => Fetched)) {}

  async fetch(url: string): Promise<Fetched> {
    this.urls.push(url);
    return typeof this.result === 'function' ? this.result(url) : this.result;
  }
}

export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  attributes: Record<string, unknown>;
}

/** A `Log` that keeps what it was given. */
export function recordingLog(): Log & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const at =
    (level: LogEntry['level']) =>
    (message: unknown, ...rest: unknown[]) => {
      const attributes = Object.assign({}, ...rest.filter((item) => typeof item === 'object')) as Record<
        string,
        unknown
      >;
      entries.push({ level, message: String(message), attributes });
    };
  return {
    entries,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
  } as unknown as Log & { entries: LogEntry[] };
}

/** Terra as the callbacks see it: `getUser` answers from `users` (or throws `failure`). */
export class FakeTerra implements Pick<TerraPort, 'getUser'> {
  readonly users = new Map<string, TerraUserInfo>();
  readonly asked: string[] = [];
  failure: Error | undefined;

  async getUser(user_id: string): Promise<TerraUserInfo | undefined> {
    this.asked.push(user_id);
    if (this.failure) throw this.failure;
    const user = this.users.get(user_id);
    return user === undefined ? undefined : structuredClone(user);
  }
}
