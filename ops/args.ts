import { parseArgs } from 'node:util';
import { UsageError } from './errors.ts';

/**
 * The command line: one command, its arguments, its options and the global ones, anywhere on the line.
 * Anything unknown, misplaced or malformed is a usage error (exit 2), never a guess.
 */
type Option = { type: 'string' | 'boolean'; short?: string };

export const GLOBAL_OPTIONS = {
  json: { type: 'boolean' },
  stack: { type: 'string' },
  region: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  verbose: { type: 'boolean' },
} as const satisfies Record<string, Option>;

export interface CommandSpec {
  usage: string;
  options: readonly string[];
  /** How many positional arguments the command takes. */
  positionals: { min: number; max: number };
}

export const COMMANDS = {
  deliveries: {
    usage:
      'deliveries [--status failed|stale|received|ignored|processed] [--type T] [--user U] [--since 1d] [--limit N]',
    options: ['status', 'type', 'user', 'since', 'limit'],
    positionals: { min: 0, max: 0 },
  },
  delivery: { usage: 'delivery <event_id> [--body]', options: ['body'], positionals: { min: 1, max: 1 } },
  replay: {
    usage: 'replay <event_id>... | replay --status stale|failed|received [--since 1d] [--type T] [--user U]',
    options: ['status', 'since', 'type', 'user'],
    positionals: { min: 0, max: Number.POSITIVE_INFINITY },
  },
  connection: {
    usage: 'connection <user_id | reference_id> [--limit N]',
    options: ['limit'],
    positionals: { min: 1, max: 1 },
  },
  redrive: { usage: 'redrive', options: [], positionals: { min: 0, max: 0 } },
  'terra-users': {
    usage: 'terra-users [--stale] [--deauth [--yes]]',
    options: ['stale', 'deauth', 'yes'],
    positionals: { min: 0, max: 0 },
  },
  'delete-user': {
    usage: 'delete-user <reference_id> [--yes]',
    options: ['yes'],
    positionals: { min: 1, max: 1 },
  },
} as const satisfies Record<string, CommandSpec>;

export type CommandName = keyof typeof COMMANDS;

const COMMAND_OPTIONS = {
  status: { type: 'string' },
  type: { type: 'string' },
  user: { type: 'string' },
  since: { type: 'string' },
  limit: { type: 'string' },
  body: { type: 'boolean' },
  stale: { type: 'boolean' },
  deauth: { type: 'boolean' },
  yes: { type: 'boolean' },
} as const satisfies Record<string, Option>;

type Values = {
  [K in keyof typeof COMMAND_OPTIONS]?: (typeof COMMAND_OPTIONS)[K]['type'] extends 'string'
    ? string
    : boolean;
};

export interface Invocation {
  command?: CommandName;
  positionals: string[];
  values: Values;
  json: boolean;
  stack?: string;
  /** The deployed stack's AWS region, over AWS_REGION. */
  region?: string;
  help: boolean;
  verbose: boolean;
}

const isCommand = (name: string): name is CommandName => Object.hasOwn(COMMANDS, name);

function parseRaw(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    options: { ...GLOBAL_OPTIONS, ...COMMAND_OPTIONS },
    allowPositionals: true,
    tokens: true,
    strict: true,
  });
}

export function parseInvocation(argv: readonly string[]): Invocation {
  let parsed: ReturnType<typeof parseRaw>;
  try {
    parsed = parseRaw(argv);
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0] ?? 'invalid arguments');
  }
  const { values, positionals, tokens } = parsed;
  const [name, ...rest] = positionals;
  const base = {
    json: values.json === true,
    help: values.help === true,
    verbose: values.verbose === true,
    ...(values.stack === undefined ? {} : { stack: values.stack }),
    ...(values.region === undefined ? {} : { region: values.region }),
  };
  if (name === undefined) return { ...base, positionals: [], values: {} };
  if (!isCommand(name))
    throw new UsageError(`unknown command '${name}'; one of ${Object.keys(COMMANDS).join(', ')}`);
  const spec: CommandSpec = COMMANDS[name];
  for (const token of tokens) {
    if (token.kind !== 'option' || Object.hasOwn(GLOBAL_OPTIONS, token.name)) continue;
    if (!spec.options.includes(token.name))
      throw new UsageError(`${name} takes no --${token.name}; usage: ${spec.usage}`);
  }
  if (base.stack !== undefined && base.stack.trim() === '')
    throw new UsageError('--stack needs a stack name');
  if (base.region !== undefined && base.region.trim() === '')
    throw new UsageError('--region needs a region, such as eu-west-1');
  if (base.region !== undefined && base.stack === undefined)
    throw new UsageError('--region is the region of a deployed stack: give it with --stack <name>');
  const command: Values = {};
  for (const option of spec.options) {
    const value = values[option as keyof typeof COMMAND_OPTIONS];
    if (value !== undefined) Object.assign(command, { [option]: value });
  }
  if (!base.help) {
    // An empty id (`replay ''`, an unset shell variable) is a mistake of the caller, not a lookup.
    if (rest.some((argument) => argument.trim() === ''))
      throw new UsageError(`${name} got an empty argument; usage: ${spec.usage}`);
    if (rest.length < spec.positionals.min)
      throw new UsageError(`${name} is missing an argument; usage: ${spec.usage}`);
    if (rest.length > spec.positionals.max) {
      throw new UsageError(
        `${name} takes ${spec.positionals.max === 0 ? 'no' : `at most ${spec.positionals.max}`} argument(s); usage: ${spec.usage}`,
      );
    }
    for (const [option, value] of Object.entries(command)) {
      if (typeof value === 'string' && value.trim() === '') throw new UsageError(`--${option} needs a value`);
    }
  }
  return { ...base, command: name, positionals: rest, values: command };
}

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `30m`, `12h`, `7d` (and `45s`) → milliseconds. */
export function parseDuration(text: string, option = 'since'): number {
  const match = /^(\d{1,6})([smhd])$/.exec(text.trim());
  const amount = Number(match?.[1]);
  const unit = UNITS[match?.[2] ?? ''];
  if (!match || unit === undefined || amount <= 0) {
    throw new UsageError(`--${option} takes a duration such as 30m, 12h or 7d, not '${text}'`);
  }
  return amount * unit;
}

export function parseLimit(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d{1,7}$/.test(text.trim()) || Number(text) <= 0) {
    throw new UsageError(`--limit takes a positive whole number, not '${text}'`);
  }
  return Number(text);
}
