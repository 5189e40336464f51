import { OpsError } from '#ops/errors';
import { localTarget } from '#ops/target';
import { reconcileHandler } from '#shared/handlers/reconcile';

/**
 * `npm run reconcile`: runs the scheduled reconcile function once against the stack `npm start` is
 * running (its DynamoDB Local and its Terra: the sandbox, or real Terra with your TERRA_DEV_ID and
 * TERRA_API_KEY), and prints the report. The stack is found as `npm run ops` finds it.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
try {
  const target = await localTarget(process.env);
  const handler = reconcileHandler(await target.terraEnv());
  const report = await handler({}, { getRemainingTimeInMillis: () => 10 * 60 * 1000 });
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} catch (error) {
  if (!(error instanceof OpsError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(error.code);
}
