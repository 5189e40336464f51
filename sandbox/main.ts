import { type Sandbox, type SandboxOptions, startSandbox } from './sandbox.ts';

/**
 * The sandbox on its own: `npx tsx sandbox/main.ts`. Port from SANDBOX_PORT (default 3001),
 * credentials and secret from the same variables the local stack uses, webhooks to TERRA_WEBHOOK_URL.
 */
const port = Number(process.env.SANDBOX_PORT ?? 3001);
const env = (name: string): string | undefined => process.env[name] || undefined;

let sandbox: Sandbox | undefined;
let stopping = false;
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  await sandbox?.stop();
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

try {
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new Error(`SANDBOX_PORT must be a port number, e.g. 3001 (got ${process.env.SANDBOX_PORT})`);
  const options: SandboxOptions = {
    port,
    log: (line) => process.stdout.write(`${line}\n`),
  };
  const devId = env('TERRA_DEV_ID');
  const apiKey = env('TERRA_API_KEY');
  const signingSecret = env('TERRA_SIGNING_SECRET');
  const webhookUrl = env('TERRA_WEBHOOK_URL');
  if (devId) options.devId = devId;
  if (apiKey) options.apiKey = apiKey;
  if (signingSecret) options.signingSecret = signingSecret;
  if (webhookUrl) options.webhookUrl = webhookUrl;
  sandbox = await startSandbox(options);
  const settings = sandbox.settings();
  const lines = [
    '',
    'Terra sandbox is running',
    `  Terra API (base URL)   ${sandbox.apiUrl}`,
    `  Widget sessions        POST ${sandbox.url}/api/widget/session`,
    `  Controls               ${sandbox.url}/sandbox/{users,deliveries,settings}`,
    `  Webhooks to            ${settings.webhookUrl ?? '(none: POST /sandbox/settings {"webhookUrl": "…"})'}`,
    `  Signing secret         ${settings.signingSecret}`,
    '',
    'Ctrl-C stops it.',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} catch (error) {
  const err = error as NodeJS.ErrnoException;
  const message =
    err.code === 'EADDRINUSE' ? `Port ${port} is in use: set SANDBOX_PORT=<another port>.` : err.message;
  process.stderr.write(`Terra sandbox could not start: ${message}\n`);
  await stop(1);
}
