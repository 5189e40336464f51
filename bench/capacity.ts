import { AsyncLocalStorage } from 'node:async_hooks';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * Counts the DynamoDB capacity a workload actually issues. Every command sent through the document
 * client asks for `ReturnConsumedCapacity: 'INDEXES'` (DynamoDB Local reports it: GSI writes included,
 * transactions doubled) and the answers are summed. Writes DynamoDB refuses carry no capacity in the
 * error, yet are billed: a failed condition costs the size of the existing item in write units (at
 * least 1), a cancelled transaction is counted as 2 units per item it held (its items are small);
 * both are counted by that rule and reported apart.
 */
interface ConsumedCapacity {
  TableName?: string;
  CapacityUnits?: number;
}

export interface UnitTotals {
  calls: number;
  readUnits: number;
  writeUnits: number;
  /** Write units charged by rule for refused conditional writes and cancelled transactions. */
  refusedWriteUnits: number;
  refusedWrites: number;
}

const READS = /^(Get|Query|Scan|BatchGet|TransactGet)/;

const empty = (): UnitTotals => ({
  calls: 0,
  readUnits: 0,
  writeUnits: 0,
  refusedWriteUnits: 0,
  refusedWrites: 0,
});

export class CapacityMeter {
  /** Which bucket the current async context's commands count in (a delivery kind, a connect step). */
  readonly scope = new AsyncLocalStorage<string>();
  private readonly byScope = new Map<string, UnitTotals>();
  private readonly byCommand = new Map<string, UnitTotals>();
  private readonly callsByScope = new Map<string, Map<string, number>>();
  private readonly cpu = new Map<string, { ms: number; calls: number }>();
  enabled = true;
  /**
   * Also time each call's CPU in this process. Only meaningful with one call in flight (concurrency 1):
   * the process is otherwise idle while it waits, so the CPU used across the call is the call's own.
   */
  timing = false;

  attach(doc: DynamoDBDocumentClient): void {
    doc.middlewareStack.add(
      (next, context) => async (args) => {
        if (!this.enabled) return next(args);
        const input = args.input as { ReturnConsumedCapacity?: string; TransactItems?: unknown[] };
        input.ReturnConsumedCapacity = 'INDEXES';
        const command = context.commandName ?? 'unknown';
        const read = READS.test(command);
        const cpu = this.timing ? process.cpuUsage() : undefined;
        try {
          const result = await next(args);
          if (cpu) {
            const used = process.cpuUsage(cpu);
            const entry = this.cpu.get(command) ?? { ms: 0, calls: 0 };
            entry.ms += (used.user + used.system) / 1000;
            entry.calls++;
            this.cpu.set(command, entry);
          }
          const consumed = (result.output as { ConsumedCapacity?: ConsumedCapacity | ConsumedCapacity[] })
            .ConsumedCapacity;
          const units = [consumed ?? []].flat().reduce((sum, item) => sum + (item.CapacityUnits ?? 0), 0);
          this.add(command, (t) => {
            t.calls++;
            if (read) t.readUnits += units;
            else t.writeUnits += units;
          });
          return result;
        } catch (error) {
          const name = (error as Error).name;
          const refused =
            name === 'ConditionalCheckFailedException'
              ? Math.max(1, Math.ceil(JSON.stringify((error as { Item?: unknown }).Item ?? {}).length / 1024))
              : name === 'TransactionCanceledException'
                ? 2 * (input.TransactItems?.length ?? 1)
                : 0;
          this.add(command, (t) => {
            t.calls++;
            if (refused) {
              t.refusedWrites++;
              t.refusedWriteUnits += refused;
            }
          });
          throw error;
        }
      },
      { step: 'initialize', name: 'benchConsumedCapacity', override: true },
    );
  }

  private add(command: string, apply: (totals: UnitTotals) => void): void {
    const scope = this.scope.getStore() ?? 'other';
    const calls = this.callsByScope.get(scope) ?? new Map<string, number>();
    calls.set(command, (calls.get(command) ?? 0) + 1);
    this.callsByScope.set(scope, calls);
    for (const [map, key] of [
      [this.byScope, scope],
      [this.byCommand, command],
      [this.byScope, '*'],
    ] as const) {
      const totals = map.get(key) ?? empty();
      map.set(key, totals);
      apply(totals);
    }
  }

  reset(): void {
    this.byScope.clear();
    this.byCommand.clear();
    this.callsByScope.clear();
    this.cpu.clear();
  }

  /** Which commands each scope sent, and how often. */
  calls(scope: string): Record<string, number> {
    return Object.fromEntries(this.callsByScope.get(scope) ?? []);
  }

  /** CPU ms per call by command, from the calls timed while `timing` was on. */
  cpuPerCall(): Record<string, number> {
    return Object.fromEntries(
      [...this.cpu].map(([command, e]) => [command, Math.round((e.ms / e.calls) * 100) / 100]),
    );
  }

  total(): UnitTotals {
    return this.byScope.get('*') ?? empty();
  }

  scopes(): Record<string, UnitTotals> {
    return Object.fromEntries([...this.byScope].filter(([key]) => key !== '*'));
  }

  commands(): Record<string, UnitTotals> {
    return Object.fromEntries(this.byCommand);
  }
}
