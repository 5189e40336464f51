import { localClient } from '#local/dynamodb';
import { startLocalPipeline } from '#local/pipeline';
import type { Env } from '#shared/config';

/**
 * The local outbox publisher alone, in a process of its own, so that a test can SIGKILL it the way a crash
 * ends `npm start`: no stop, no cleanup. Options come as JSON in the first argument; every event it
 * publishes is printed as a line `{"id", "user_id"}` once it is in the feed (and so handed to the target).
 */
const options = JSON.parse(process.argv[2] ?? '{}') as {
  env: Env;
  dataDir: string;
  eventTargetUrl?: string;
};
const admin = localClient(String(options.env.DYNAMODB_ENDPOINT));
const pipeline = await startLocalPipeline({
  admin,
  env: options.env,
  dataDir: options.dataDir,
  eventTargetUrl: options.eventTargetUrl,
});
process.stdout.write('ready\n');
let seen = 0;
setInterval(() => {
  for (const entry of pipeline.feed(seen)) {
    const detail = entry.envelope.detail as { id: string; user_id?: string };
    process.stdout.write(`${JSON.stringify({ id: detail.id, user_id: detail.user_id })}\n`);
    seen = entry.seq;
  }
}, 20);
