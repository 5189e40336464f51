/**
 * The CLI's exit codes (`npm run ops -- --help` lists them) and the errors that carry them.
 */
export const EXIT = {
  /** Done. */
  done: 0,
  /** Failed: an error, or nothing of what was asked could be done. */
  failed: 1,
  /** Usage error: an unknown command or option, a missing or malformed argument. */
  usage: 2,
  /** Not found: the delivery, connection or stack named does not exist. */
  notFound: 3,
  /** Partly done: some items failed (each item's outcome says which). */
  partly: 4,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class OpsError extends Error {
  override name = 'OpsError';
  constructor(
    readonly code: ExitCode,
    message: string,
  ) {
    super(message);
  }
}

export class UsageError extends OpsError {
  override name = 'UsageError';
  constructor(message: string) {
    super(EXIT.usage, message);
  }
}

export class NotFoundError extends OpsError {
  override name = 'NotFoundError';
  constructor(message: string) {
    super(EXIT.notFound, message);
  }
}

/** The code of a run whose items each succeeded or not: all, some, none (or nothing to do). */
export function codeOf(succeeded: number, total: number): ExitCode {
  if (succeeded === total) return EXIT.done;
  return succeeded === 0 ? EXIT.failed : EXIT.partly;
}

/** The JSON key of an exit code, for `{"error": {"code": …}}`. */
export function codeName(code: ExitCode): string {
  return code === EXIT.usage
    ? 'usage'
    : code === EXIT.notFound
      ? 'not_found'
      : code === EXIT.partly
        ? 'partly_done'
        : 'failed';
}
