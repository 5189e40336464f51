import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';

// Local runs use Node 20; Lambda runs 22. The SDK's notice about that is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { LOCAL_DEFAULTS, LOCAL_SETTINGS, type LocalStack, startLocalStack } from './stack.ts';

/**
 * `npm start`: the whole backend on this machine. `npm start -- --fresh` starts from empty state.
 * `TERRA_CONNECT_DATA_DIR` moves the state elsewhere (default `.local/`).
 */
const { values } = parseArgs({ options: { fresh: { type: 'boolean', default: false } } });
const port = Number(process.env.PORT ?? LOCAL_DEFAULTS.port);
const sandboxPort = Number(process.env.SANDBOX_PORT ?? LOCAL_DEFAULTS.sandboxPort);
const realTerra = process.env.TERRA_API_URL;

class StartError extends Error {}

let stack: LocalStack | undefined;
let starting: Promise<unknown> | undefined;
const interrupted = new AbortController();
let stopping = false;

async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  interrupted.abort();
  // DynamoDB Local runs in a process group of its own, so Ctrl-C does not reach it: wait for start-up to
  // get as far as it gets, then stop whatever it started.
  await starting?.catch(() => undefined);
  await stack?.stop();
  process.exit(code);
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (!stopping) process.stdout.write('\nStopping…\n');
    void stop(0);
  });
}

function checkJava(): void {
  const probe = spawnSync('java', ['-version'], { encoding: 'utf8' });
  // Ctrl-C reached the probe too: the signal handler stops everything, this is no missing Java.
  if (probe.signal === 'SIGINT') return;
  if (probe.error || probe.status !== 0) {
    throw new StartError(
      [
        'Java was not found. DynamoDB Local (the real DynamoDB engine, run locally) needs Java 17 or newer.',
        '  Debian/Ubuntu:  sudo apt-get install openjdk-17-jre-headless',
        '  macOS:          brew install openjdk@17',
        '  Windows:        winget install Microsoft.OpenJDK.17',
        'Then check that `java -version` works in this shell and run npm start again.',
      ].join('\n'),
    );
  }
  const major = Number(/version "(?:1\.)?(\d+)/.exec(probe.stderr)?.[1]);
  if (major && major < 17)
    throw new StartError(`DynamoDB Local needs Java 17 or newer; \`java -version\` says ${major}.`);
}

function portInUse(which: number, name: string, variable: string): StartError {
  return new StartError(
    `Port ${which} (${name}) is in use: stop what uses it, or pick another one, e.g. ${variable}=${which + 10} npm start.`,
  );
}

/** Fails before DynamoDB Local spends seconds starting when a port is taken anyway. */
async function checkPort(which: number, name: string, variable: string): Promise<void> {
  await new Promise<void>((done, fail) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) =>
      fail(error.code === 'EADDRINUSE' ? portInUse(which, name, variable) : error),
    );
    probe.listen(which, '127.0.0.1', () => probe.close(() => done()));
  });
}

/** One line per start-up step; on a terminal the current one counts the seconds. */
type StepOutcome = 'done' | 'failed' | 'interrupted';

function progress(): { step(message: string): void; end(outcome: StepOutcome): void } {
  let current: { message: string; started: number; timer?: NodeJS.Timeout } | undefined;
  const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;
  const end = (outcome: StepOutcome) => {
    if (!current) return;
    clearInterval(current.timer);
    const result = ` ${outcome} (${seconds(current.started)})`;
    process.stdout.write(process.stdout.isTTY ? `\r${current.message}${result}\x1b[K\n` : `${result}\n`);
    current = undefined;
  };
  return {
    step(message) {
      end('done');
      current = { message, started: Date.now() };
      process.stdout.write(message);
      if (process.stdout.isTTY) {
        const step = current;
        step.timer = setInterval(
          () => process.stdout.write(`\r${step.message} ${seconds(step.started)}`),
          250,
        );
      }
    },
    end,
  };
}

try {
  if (realTerra && !(process.env.TERRA_DEV_ID && process.env.TERRA_API_KEY)) {
    throw new StartError(
      'TERRA_API_URL is set, so TERRA_DEV_ID and TERRA_API_KEY must be set too (your Terra credentials).',
    );
  }
  checkJava();
  await checkPort(port, 'the API', 'PORT');
  if (!realTerra) await checkPort(sandboxPort, 'the Terra sandbox', 'SANDBOX_PORT');

  const steps = progress();
  const started = startLocalStack({
    port,
    fresh: values.fresh,
    ...(process.env.TERRA_CONNECT_DATA_DIR ? { dataDir: process.env.TERRA_CONNECT_DATA_DIR } : {}),
    signingSecret: process.env.TERRA_SIGNING_SECRET ?? LOCAL_DEFAULTS.signingSecret,
    sandbox: { port: sandboxPort },
    // The local contract: the sandbox delivers to TERRA_WEBHOOK_URL when set (a proxy, a tunnel, a test).
    ...(process.env.TERRA_WEBHOOK_URL ? { webhookTarget: process.env.TERRA_WEBHOOK_URL } : {}),
    ...(process.env.PUBLIC_API_URL ? { publicApiUrl: process.env.PUBLIC_API_URL } : {}),
    env: Object.fromEntries(
      LOCAL_SETTINGS.flatMap((name) =>
        process.env[name] === undefined ? [] : [[name, process.env[name] ?? '']],
      ),
    ),
    // Every event the app would receive is also POSTed here, as EventBridge's envelope.
    ...(process.env.EVENT_TARGET_URL ? { eventTargetUrl: process.env.EVENT_TARGET_URL } : {}),
    ...(realTerra
      ? {
          terra: {
            apiUrl: realTerra,
            devId: process.env.TERRA_DEV_ID ?? '',
            apiKey: process.env.TERRA_API_KEY ?? '',
            ...(process.env.TERRA_WIDGET_SESSION_URL
              ? { widgetSessionUrl: process.env.TERRA_WIDGET_SESSION_URL }
              : {}),
          },
        }
      : {}),
    onProgress: (message) => steps.step(message),
    signal: interrupted.signal,
  });
  starting = started;
  stack = await started.then(
    (running) => {
      steps.end('done');
      return running;
    },
    (error: unknown) => {
      steps.end(interrupted.signal.aborted ? 'interrupted' : 'failed');
      throw error;
    },
  );

  const terra = stack.sandbox
    ? `local sandbox at ${stack.sandbox.url} (set TERRA_API_URL to use real Terra)`
    : `real Terra at ${stack.terraApiUrl}; its webhooks must reach the webhook URL through your tunnel`;
  const lines = [
    '',
    'terra-connect is running locally',
    '',
    `  Demo             ${stack.apiUrl}/   ← open this, sign in with any name, connect a wearable`,
    `  API              ${stack.apiUrl}`,
    `  Webhook URL      ${stack.webhookUrl}`,
    ...(stack.webhookTarget !== stack.webhookUrl
      ? [`  Sandbox sends to ${stack.webhookTarget} (TERRA_WEBHOOK_URL)`]
      : []),
    `  Signing secret   ${stack.signingSecret}`,
    `  Terra            ${terra}`,
    `  Data             ${stack.dataDir} (npm start -- --fresh empties it)`,
    '',
    'Ctrl-C stops everything.',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  // Without its store every route would answer 500 while the console looks healthy: stop, and say why.
  void stack.died.then((error) => {
    if (stopping) return;
    process.stderr.write(
      `\nterra-connect stopped: ${error.message}\nWhat was committed is kept in ${stack?.dataDir}; run npm start again.\n`,
    );
    void stop(1);
  });
} catch (error) {
  if (!stopping) {
    const err = error as NodeJS.ErrnoException & { port?: number };
    const message =
      error instanceof StartError
        ? error.message
        : err.code === 'EADDRINUSE'
          ? err.port === sandboxPort
            ? portInUse(sandboxPort, 'the Terra sandbox', 'SANDBOX_PORT').message
            : portInUse(port, 'the API', 'PORT').message
          : err.message;
    process.stderr.write(`\nterra-connect could not start: ${message}\n`);
    await stop(1);
  }
}
