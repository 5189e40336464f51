import { parseArgs } from 'node:util';

// Local runs use Node 20; Lambda runs 22. The SDK's notice about that is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { LOCAL_DEFAULTS, type LocalStack, startLocalStack } from './stack.ts';

/** `npm start`: the whole backend on this machine. `npm start -- --fresh` starts from empty state. */
const { values } = parseArgs({ options: { fresh: { type: 'boolean', default: false } } });
const port = Number(process.env.PORT ?? LOCAL_DEFAULTS.port);

let stack: LocalStack | undefined;
let stopping = false;
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  process.stdout.write('\nStopping…\n');
  await stack?.stop();
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

try {
  const realTerra = process.env.TERRA_API_URL;
  if (realTerra && !(process.env.TERRA_DEV_ID && process.env.TERRA_API_KEY)) {
    throw new Error(
      'TERRA_API_URL is set, so TERRA_DEV_ID and TERRA_API_KEY must be set too (your Terra credentials).',
    );
  }
  stack = await startLocalStack({
    port,
    fresh: values.fresh,
    signingSecret: process.env.TERRA_SIGNING_SECRET ?? LOCAL_DEFAULTS.signingSecret,
    sandbox: { port: Number(process.env.SANDBOX_PORT ?? LOCAL_DEFAULTS.sandboxPort) },
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
    onProgress: (message) => process.stdout.write(`${message}\n`),
  });
  const terra = stack.sandbox
    ? `Terra sandbox at ${stack.sandbox.url} (set TERRA_API_URL to use real Terra)`
    : `real Terra at ${stack.terraApiUrl}; its webhooks must reach ${stack.webhookUrl} through your tunnel`;
  const lines = [
    '',
    'terra-connect is running locally',
    `  API              ${stack.apiUrl}`,
    `  Webhook URL      ${stack.webhookUrl}`,
    `  Signing secret   ${stack.signingSecret}`,
    `  Terra            ${terra}`,
    `  Dev token        curl -s -X POST ${stack.apiUrl}/dev/token -d '{"sub":"alice"}'`,
    `  Data             ${stack.dataDir} (start with --fresh to empty it)`,
    '',
    'Ctrl-C stops everything.',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} catch (error) {
  const err = error as NodeJS.ErrnoException;
  const message =
    err.code === 'EADDRINUSE'
      ? `Port ${port} is in use: stop what uses it or set PORT=<another port>.`
      : err.message;
  process.stderr.write(`terra-connect could not start: ${message}\n`);
  await stop(1);
}
