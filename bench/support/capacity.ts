import { AsyncLocalStorage } from 'node:async_hooks';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * What each delivery costs in DynamoDB: round trips, and write and read capacity units as DynamoDB
 * reports them. A middleware on the document client asks every command for
 * `ReturnConsumedCapacity: 'TOTAL'` (index writes included) and adds the answer to the delivery the
 * command runs for (an AsyncLocalStorage scope around each handler call). A write DynamoDB refuses
 * carries no capacity in its error but is billed: a failed condition costs the larger of the item
 * written and the item found, in 1 KB write units and at least 1; a cancelled transaction 2 units per
 * item it held. Both are counted by that rule (sizes by DynamoDB's item-size rules) and kept apart.
 */
export interface Usage {
  calls: number;
  /** SDK attempts beyond the first (retries are round trips too). */
  retries: number;
  writeUnits: number;
  readUnits: number;
  /** Write units billed for refused conditional writes and cancelled transactions. */
  refusedWriteUnits: number;
  commands: string[];
}

export const emptyUsage = (): Usage => ({
  calls: 0,
  retries: 0,
  writeUnits: 0,
  readUnits: 0,
  refusedWriteUnits: 0,
  commands: [],
});

const READS = /^(Get|Query|Scan|BatchGet|TransactGet)/;

type AttributeValue = Record<string, unknown>;

/** DynamoDB's size of a value: strings and binaries by length, numbers about one byte per two digits. */
function valueBytes(value: unknown, marshalled: boolean): number {
  if (marshalled && value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const [type, inner] = Object.entries(value as AttributeValue)[0] ?? ['NULL', true];
    switch (type) {
      case 'S':
        return Buffer.byteLength(String(inner));
      case 'N':
        return Math.ceil(String(inner).replace(/[-.]/g, '').length / 2) + 1;
      case 'B':
        return (inner as Uint8Array).length ?? 0;
      case 'BOOL':
      case 'NULL':
        return 1;
      case 'L':
        return 3 + (inner as unknown[]).reduce<number>((sum, v) => sum + 1 + valueBytes(v, true), 0);
      case 'M':
        return 3 + mapBytes(inner as Record<string, unknown>, true);
      default:
        return Buffer.byteLength(JSON.stringify(inner ?? ''));
    }
  }
  if (typeof value === 'string') return Buffer.byteLength(value);
  if (typeof value === 'number') return Math.ceil(String(value).replace(/[-.]/g, '').length / 2) + 1;
  if (typeof value === 'boolean' || value === null || value === undefined) return 1;
  if (value instanceof Uint8Array) return value.length;
  if (Array.isArray(value)) return 3 + value.reduce<number>((sum, v) => sum + 1 + valueBytes(v, false), 0);
  if (value instanceof Set) return [...value].reduce<number>((sum, v) => sum + valueBytes(v, false), 0);
  return 3 + mapBytes(value as Record<string, unknown>, false);
}

function mapBytes(item: Record<string, unknown>, marshalled: boolean): number {
  return Object.entries(item).reduce(
    (sum, [name, value]) => sum + Buffer.byteLength(name) + valueBytes(value, marshalled),
    0,
  );
}

/** Write units for an item of this many bytes: 1 per KB started, at least 1. */
const writeUnitsFor = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));

interface CommandInput {
  ReturnConsumedCapacity?: string;
  Item?: Record<string, unknown>;
  TransactItems?: unknown[];
}

export class CapacityMeter {
  readonly scope = new AsyncLocalStorage<Usage>();
  enabled = true;

  /** Counts `run`'s DynamoDB commands into `usage` (which it returns). */
  async measure<T>(usage: Usage, run: () => Promise<T>): Promise<T> {
    return this.scope.run(usage, run);
  }

  attach(doc: DynamoDBDocumentClient): void {
    doc.middlewareStack.add(
      (next, context) => async (args) => {
        const usage = this.enabled ? this.scope.getStore() : undefined;
        if (!usage) return next(args);
        const input = args.input as CommandInput;
        input.ReturnConsumedCapacity = 'TOTAL';
        const command = (context.commandName ?? 'unknown').replace(/Command$/, '');
        usage.calls++;
        usage.commands.push(command);
        try {
          const result = await next(args);
          const output = result.output as {
            ConsumedCapacity?: { CapacityUnits?: number } | Array<{ CapacityUnits?: number }>;
            $metadata?: { attempts?: number };
          };
          usage.retries += Math.max(0, (output.$metadata?.attempts ?? 1) - 1);
          const units = [output.ConsumedCapacity ?? []]
            .flat()
            .reduce((sum, c) => sum + (c.CapacityUnits ?? 0), 0);
          if (READS.test(command)) usage.readUnits += units;
          else usage.writeUnits += units;
          return result;
        } catch (error) {
          const failure = error as Error & {
            Item?: Record<string, unknown>;
            $metadata?: { attempts?: number };
          };
          usage.retries += Math.max(0, (failure.$metadata?.attempts ?? 1) - 1);
          if (failure.name === 'ConditionalCheckFailedException') {
            const written = input.Item ? mapBytes(input.Item, false) : 0;
            const found = failure.Item ? mapBytes(failure.Item, true) : 0;
            usage.refusedWriteUnits += writeUnitsFor(Math.max(written, found));
          } else if (failure.name === 'TransactionCanceledException') {
            usage.refusedWriteUnits += 2 * (input.TransactItems?.length ?? 1);
          }
          throw error;
        }
      },
      { step: 'initialize', name: 'benchConsumedCapacity', override: true },
    );
  }
}

/**
 * Attaches `meter` to every document client in this process, including those the code under test
 * builds for itself from its configuration (shared/runtime wires its own client; there is no seam to
 * hand it one). Each client gets the middleware before its first command. Returns the undo.
 */
export function meterEveryDocumentClient(meter: CapacityMeter): () => void {
  const prototype = DynamoDBDocumentClient.prototype;
  const original = prototype.send;
  const attached = new WeakSet<DynamoDBDocumentClient>();
  prototype.send = function send(this: DynamoDBDocumentClient, ...args: Parameters<typeof original>) {
    if (!attached.has(this)) {
      attached.add(this);
      meter.attach(this);
    }
    return original.apply(this, args);
  } as typeof original;
  return () => {
    prototype.send = original;
  };
}
