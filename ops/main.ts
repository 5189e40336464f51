import './quiet.ts';
import { run } from './cli.ts';

/**
 * `npm run ops -- <command> [options]`: the operations CLI (`npm run ops -- --help`). Ctrl-C stops a
 * long command between its steps; a second Ctrl-C stops at once.
 */
const interrupted = new AbortController();
process.once('SIGINT', () => {
  interrupted.abort();
  process.once('SIGINT', () => process.exit(130));
});
const code = await run({
  argv: process.argv.slice(2),
  env: process.env,
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  signal: interrupted.signal,
});
// Exit once the output is written (a pipe may still be draining it); open SDK sockets do not hold it up.
process.stdout.write('', () => process.exit(code));
