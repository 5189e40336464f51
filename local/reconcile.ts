import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
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
const { sandbox, ...env } = runtime;
Object.assign(process.env, env);
process.env.TERRA_DEV_ID ??= sandbox ? LOCAL_DEFAULTS.devId : '';
process.env.TERRA_API_KEY ??= sandbox ? LOCAL_DEFAULTS.apiKey : '';
process.env.REDIRECT_TARGETS ??= JSON.stringify({
  web: { success: 'http://localhost/', failure: 'http://localhost/' },
});

const { handler } = await import('../functions/reconcile.ts');
const report = await handler({}, { getRemainingTimeInMillis: () => 10 * 60 * 1000 });
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
