import { type ChildProcess, fork } from 'node:child_process';
import { PROJECT_ROOT } from './paths.ts';

/**
 * Everything a run starts (child processes, DynamoDB Local, local servers) is registered here and
 * stopped on the way out, by its own handle: at the end of its phase, or all of them when the run is
 * interrupted (Ctrl-C, SIGTERM).
 */
const stops = new Set<() => Promise<void> | void>();

/** Registers a stop; returns the function that runs it once and unregisters it. */
export function track(stop: () => Promise<void> | void): () => Promise<void> {
  let done = false;
  const once = async () => {
    if (done) return;
    done = true;
    stops.delete(once);
    await stop();
  };
  stops.add(once);
  return once;
}

export async function stopEverything(): Promise<void> {
  for (const stop of [...stops].reverse()) await Promise.resolve(stop()).catch(() => undefined);
}

export function stopOnSignals(): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n[bench] ${signal}: stopping what the run started …\n`);
      void stopEverything().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
  }
}

export type ChildMessage = { kind: string; error?: string } & Record<string, unknown>;

/**
 * A child that answers over IPC. Its stdout (where handlers log) goes nowhere unless asked for;
 * stderr is kept for the error message when it fails.
 */
export class Child {
  private stderr = '';
  private readonly queue: ChildMessage[] = [];
  private waiting?: (message: ChildMessage) => void;
  readonly exited: Promise<number | null>;
  readonly stop: () => Promise<void>;

  constructor(readonly process: ChildProcess) {
    process.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
    process.on('message', (message: ChildMessage) => {
      const waiting = this.waiting;
      this.waiting = undefined;
      if (waiting) waiting(message);
      else this.queue.push(message);
    });
    this.exited = new Promise((done) => process.once('exit', (code) => done(code)));
    this.stop = track(async () => {
      if (process.exitCode !== null || process.signalCode !== null) return;
      process.kill('SIGKILL');
      await this.exited;
    });
  }

  /** The next message; an `error` message, or the child exiting first, throws. */
  async next(kind?: string): Promise<ChildMessage> {
    const message =
      this.queue.shift() ??
      (await Promise.race([
        new Promise<ChildMessage>((done) => {
          this.waiting = done;
        }),
        this.exited.then(
          (code): ChildMessage => ({ kind: 'error', error: `the child exited (${code}) without answering` }),
        ),
      ]));
    if (message.kind === 'error') throw new Error(`${message.error}\n${this.stderr.trim()}`);
    if (kind && message.kind !== kind)
      throw new Error(`expected '${kind}' from the child, got '${message.kind}'`);
    return message;
  }

  send(message: unknown): void {
    this.process.send(message as Parameters<ChildProcess['send']>[0]);
  }
}

/** A TypeScript child under the same loader as this process (tsx), with its stdout discarded. */
export function forkTs(file: string, config: unknown, env: NodeJS.ProcessEnv = {}): Child {
  return new Child(
    fork(file, [JSON.stringify(config)], {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env: {
        ...process.env,
        POWERTOOLS_SERVICE_NAME: 'terra-connect',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        ...env,
      },
    }),
  );
}

/** For the child side: answer the parent, and wait until the message is out. */
export const reply = (message: ChildMessage) =>
  new Promise<void>((done) => {
    if (process.send) process.send(message, () => done());
    else done();
  });

/** For the child side: run `main`, report its result or its failure, and exit. */
export async function childMain(main: (config: unknown) => Promise<ChildMessage | undefined>): Promise<void> {
  try {
    const result = await main(JSON.parse(process.argv[2] ?? '{}'));
    if (result) await reply(result);
    process.exit(0);
  } catch (error) {
    await reply({ kind: 'error', error: (error as Error).stack ?? String(error) });
    process.exit(1);
  }
}
