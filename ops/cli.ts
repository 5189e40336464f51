import type { Log } from '#shared/log';
import { type Invocation, parseInvocation } from './args.ts';
import type { Context } from './commands.ts';
import { codeName, EXIT, type ExitCode, OpsError, UsageError } from './errors.ts';
import { helpText } from './help.ts';
import { json, printable } from './output.ts';
import { progressOn } from './progress.ts';
import type { Target } from './target.ts';

/**
 * `npm run ops -- <command>`: parses the line, finds the target, runs the command, prints its result
 * (a table, or one JSON document with --json) and answers the exit code.
 */
export interface Io {
  argv: readonly string[];
  env: NodeJS.ProcessEnv;
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WriteStream;
  signal: AbortSignal;
}

/** The shared code's log: nothing, or with --verbose one JSON line per entry on stderr. */
function logTo(stderr: NodeJS.WritableStream, verbose: boolean): Log {
  const write =
    (level: string) =>
    (message: unknown, ...extra: unknown[]) => {
      if (!verbose) return;
      const fields = Object.assign(
        {},
        ...extra.filter((value) => value !== null && typeof value === 'object'),
      );
      stderr.write(`${JSON.stringify({ level, message, ...fields })}\n`);
    };
  return {
    info: write('INFO'),
    warn: write('WARN'),
    error: write('ERROR'),
    debug: write('DEBUG'),
  } as unknown as Log;
}

function describe(error: unknown): { code: ExitCode; message: string } {
  if (error instanceof OpsError) return { code: error.code, message: error.message };
  if (error instanceof Error) {
    // The SDK names what failed (credentials, region, access, a missing table); none of it is secret.
    return { code: EXIT.failed, message: `${error.name}: ${error.message}` };
  }
  return { code: EXIT.failed, message: String(error) };
}

export async function run(io: Io): Promise<ExitCode> {
  const asJson = io.argv.includes('--json');
  const fail = (code: ExitCode, message: string, usage = false): ExitCode => {
    // A message may quote what was typed or stored (an id, a key): shown, never acted on by the terminal.
    io.stderr.write(
      `ops: ${printable(message)}\n${usage ? 'Run `npm run ops -- --help` for the commands.\n' : ''}`,
    );
    if (asJson) io.stdout.write(`${json({ error: { code: codeName(code), message } })}\n`);
    return code;
  };
  let invocation: Invocation;
  try {
    invocation = parseInvocation(io.argv);
  } catch (error) {
    const { code, message } = describe(error);
    return fail(code, message, error instanceof UsageError);
  }
  if (invocation.help) {
    io.stdout.write(helpText(invocation.command));
    return EXIT.done;
  }
  const { command } = invocation;
  // Every AWS client here and in the shared wiring takes its region from the environment, as Lambda's
  // do: --region is AWS_REGION for this run (main passes the process's own environment).
  if (invocation.region !== undefined) io.env.AWS_REGION = invocation.region.trim();
  if (command === undefined) {
    io.stderr.write(helpText());
    return fail(EXIT.usage, 'no command given');
  }
  const progress = progressOn(io.stderr);
  // Loaded only for a command: help and usage errors answer without the SDK's start-up time.
  const [{ RUN }, { resolveTarget }] = await Promise.all([import('./commands.ts'), import('./target.ts')]);
  let target: Promise<Target> | undefined;
  const context: Context = {
    invocation,
    target: () => {
      target ??= resolveTarget(invocation.stack, io.env);
      return target;
    },
    progress,
    log: logTo(io.stderr, invocation.verbose),
    stdin: io.stdin,
    stderr: io.stderr,
    now: Date.now,
    signal: io.signal,
  };
  try {
    const outcome = await RUN[command](context);
    progress.end();
    // Cells are escaped where tables are drawn (so columns line up); this catches the rest of a view.
    io.stdout.write(`${invocation.json ? json(outcome.json) : printable(outcome.human, { lines: true })}\n`);
    return outcome.code;
  } catch (error) {
    progress.end();
    const { code, message } = describe(error);
    return fail(code, message, error instanceof UsageError);
  }
}
