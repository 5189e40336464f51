import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { reconcileHandler } from '#shared/handlers/reconcile';
import { LOCAL_DEFAULTS, RUNTIME_FILE } from './stack.ts';

/**
 * `npm run reconcile`: runs the scheduled reconcile function once against the stack `npm start` is
 * running (its DynamoDB Local and its Terra: the sandbox, or real Terra with your TERRA_DEV_ID and
 * TERRA_API_KEY), and prints the report.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const dataDir = resolve(process.env.TERRA_CONNECT_DATA_DIR ?? '.local');
const file = join(dataDir, RUNTIME_FILE);
if (!existsSync(file)) {
  process.stderr.write(`No running local stack found (${file}). Start it with \`npm start\` first.\n`);
  process.exit(1);
}
const runtime = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string | boolean>;
const handler = reconcileHandler({
  CONNECTIONS_TABLE: String(runtime.CONNECTIONS_TABLE),
  INBOX_TABLE: String(runtime.INBOX_TABLE),
  DYNAMODB_ENDPOINT: String(runtime.DYNAMODB_ENDPOINT),
  TERRA_API_URL: String(runtime.TERRA_API_URL),
  TERRA_DEV_ID: process.env.TERRA_DEV_ID ?? (runtime.sandbox ? LOCAL_DEFAULTS.devId : undefined),
  TERRA_API_KEY: process.env.TERRA_API_KEY ?? (runtime.sandbox ? LOCAL_DEFAULTS.apiKey : undefined),
});
const report = await handler({}, { getRemainingTimeInMillis: () => 10 * 60 * 1000 });
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
