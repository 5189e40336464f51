import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv-draft-04';
import addFormats from 'ajv-formats';
import { envelopeOf, type LocalPipeline } from '#local/pipeline';
import type { BusEvent } from '#shared/events/bus-events';
import { EVENT_TYPES } from '#shared/events/schemas';

/**
 * Every event a test publishes, held to its published contract: the checked-in JSON Schema of its
 * detail-type (schemas/events/, what consumers and the stack's schema registry get), by an independent
 * draft-04 validator, not the zod schemas they were generated from. Test code only: nothing here ships.
 */
const SCHEMA_DIR = resolve(import.meta.dirname, '../../schemas/events');

// Strict: a keyword or format the validator does not know fails the compile instead of passing silently.
const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
// `date-time` and `date` as JSON Schema defines them (RFC 3339), checked, not just annotated.
addFormats(ajv, ['date-time', 'date']);

const validators = new Map<string, ValidateFunction>(
  EVENT_TYPES.map((type) => [
    type,
    ajv.compile(JSON.parse(readFileSync(join(SCHEMA_DIR, `${type}.json`), 'utf8')) as object),
  ]),
);

/** The detail-types an event of which has passed the check in this test file's process. */
export const conformingTypes = new Set<string>();

/** What is wrong with an event (an envelope as a target receives it); empty when it keeps its contract. */
export function contractViolations(envelope: unknown): string[] {
  const type = (envelope as { 'detail-type'?: unknown } | null)?.['detail-type'];
  const validate = typeof type === 'string' ? validators.get(type) : undefined;
  if (!validate) return [`detail-type ${JSON.stringify(type)} has no schema in schemas/events/`];
  if (validate(envelope)) {
    conformingTypes.add(type as string);
    return [];
  }
  return (validate.errors ?? []).map(
    (error) => `${type} ${error.instancePath || '/'} ${error.message ?? ''} ${JSON.stringify(error.params)}`,
  );
}

/** Throws, naming each problem and the event, unless the event keeps its contract. */
export function expectContract(envelope: unknown): void {
  const problems = contractViolations(envelope);
  if (problems.length > 0) throw new Error(report(envelope, problems));
}

/** A bus event as the local feed (and EVENT_TARGET_URL) delivers it. */
export function expectBusEventContract(event: BusEvent): void {
  expectContract(envelopeOf(event));
}

/** What EventBridge delivers to a target for a PutEvents entry. */
export function envelopeOfEntry(entry: {
  Source?: string;
  DetailType?: string;
  Detail?: string;
  Resources?: string[];
}): unknown {
  return {
    version: '0',
    id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
    'detail-type': entry.DetailType,
    source: entry.Source,
    account: '123456789012',
    // EventBridge's own time has whole seconds.
    time: `${new Date().toISOString().slice(0, 19)}Z`,
    region: 'eu-west-1',
    resources: entry.Resources ?? [],
    detail: JSON.parse(entry.Detail ?? 'null') as unknown,
  };
}

function report(envelope: unknown, problems: string[]): string {
  return `an event breaks its contract (schemas/events/; regenerate with npm run schemas only if the contract is meant to change):\n  ${problems.join('\n  ')}\n  in ${JSON.stringify(envelope).slice(0, 2_000)}`;
}

/**
 * Collects what breaks the contract where a throw would be swallowed (inside the local publisher, which
 * would only retry) and throws it at the next place a test waits or reads: `assert()`.
 */
export class ContractCheck {
  private readonly broken: string[] = [];

  readonly check = (envelope: unknown): void => {
    const problems = contractViolations(envelope);
    if (problems.length > 0) this.broken.push(report(envelope, problems));
  };

  /** Throws what broke since the last throw: each breakage fails the test once, where it surfaces first. */
  assert(): void {
    if (this.broken.length > 0) throw new Error(this.broken.splice(0).join('\n'));
  }

  /** The stack, whose feed reads, settling and stop throw what broke the contract since it started. */
  guard<Stack extends { pipeline: LocalPipeline; stop(): Promise<void> }>(stack: Stack): Stack {
    const { pipeline } = stack;
    return {
      ...stack,
      pipeline: {
        feed: (after?: number) => {
          this.assert();
          return pipeline.feed(after);
        },
        settled: async () => {
          await pipeline.settled();
          this.assert();
        },
        stop: () => pipeline.stop(),
      },
      stop: async () => {
        await stack.stop();
        this.assert();
      },
    };
  }
}
