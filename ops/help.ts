import { COMMANDS, type CommandName } from './args.ts';

/** `npm run ops -- --help`, and `<command> --help` for one command. */
const DESCRIPTIONS: Record<CommandName, string> = {
  deliveries: `Lists deliveries, most recent first. By --status through the sparse attention index
(processed ones are not in it: a scan), by --user (a Terra user) through the archive layout,
otherwise a scan of the inbox bounded by --since (default 1d for a scan). --type and the other
options filter further. At most --limit rows (default 200). --status parked lists deliveries kept for a
Terra user no app user owns yet (applied once one does).
Columns: event_id, status, type, user_id, received_at, outcome, replayed_at.`,
  delivery: `One delivery: its record, its archived objects (the body, a downloaded payload, other copies
under its id) and their sizes. The raw body (and payload) only with --body.`,
  replay: `Runs archived deliveries through the webhook receiver again, the code Terra's deliveries
run through, with the recorded signature time: their signature was checked when they were
archived (a stale one was authentic, only late), and the archived bytes must match the SHA-256
the record kept then: when any does not (edited or swapped on disk), nothing is replayed and
the run fails. Name the deliveries, or select them with
--status stale|failed|received (and --since, --type, --user). Idempotent: a processed or ignored
delivery answers duplicate and changes nothing. Each delivery's outcome is reported.`,
  connection: `The connection record(s) of a Terra user id, or else of every Terra user of an app user
(reference_id), and their deliveries (found through the archive), most recent first (at most
--limit, default 50).`,
  redrive: `Publishes again the events that failed to publish. Deployed: the dead-letter queue (events
the bus refused, and stream batches the publisher failed on, read back from the table's stream);
each message is deleted once published. Local: the lines of <data dir>/dead-letters.jsonl,
POSTed as EventBridge envelopes to EVENT_TARGET_URL, else the stack's own event target; only
what still fails stays in the file.`,
  'terra-users': `Terra users this account holds (Terra's /subscriptions, every page) that no active
record explains: no record at all, a tombstone (the person was deleted), or a record in a
terminal status. --stale also lists users whose record is active but who sent no data for
the last 30 days. --deauth deauthenticates the listed users at Terra: it asks first on a
terminal; elsewhere it needs --yes. Terra's credentials: local, the sandbox's (or
TERRA_DEV_ID and TERRA_API_KEY for real Terra); deployed, the stack's Terra secret.`,
  'delete-user': `Deletes an app user everywhere, exactly as DELETE /me does (at Terra, both tables, the
archive), and waits until it is done, the grace period before the last sweep included
(DELETION_GRACE_SECONDS, default 15). Prints the deletion's view: its id, status and counts.
It asks first on a terminal; elsewhere it needs --yes. Interrupted (Ctrl-C), it stops between
steps: run it again to join the deletion where it stands.`,
};

export const EXIT_CODES = `Exit codes
  0  done
  1  failed (an error, or nothing of what was asked could be done)
  2  usage error
  3  not found (the delivery, connection or stack named does not exist)
  4  partly done (some items failed; each item's outcome says which)`;

const indent = (text: string) =>
  text
    .split('\n')
    .map((line) => `      ${line}`)
    .join('\n');

export function helpText(command?: CommandName): string {
  if (command) {
    return [
      `Usage: npm run ops -- ${COMMANDS[command].usage} [--json] [--stack <name>]`,
      '',
      DESCRIPTIONS[command],
      '',
      EXIT_CODES,
      '',
    ].join('\n');
  }
  return `Usage: npm run ops -- <command> [options]

Operations on a terra-connect stack: its deliveries, connections, dead letters and Terra users.

Target
  (default)        the local stack \`npm start\` runs from this environment: the one whose data
                   directory is TERRA_CONNECT_DATA_DIR (default .local; it holds runtime.json while
                   the stack runs) and, when PORT is set, that listens on PORT
  --stack <name>   a deployed stack, through its CloudFormation outputs, with your AWS credentials
                   (the default credential chain; region from AWS_REGION, your profile's, or
  --region <region>  given here, which wins)

Commands
${Object.entries(COMMANDS)
  .map(([name, spec]) => `  ${spec.usage}\n${indent(DESCRIPTIONS[name as CommandName])}`)
  .join('\n\n')}

Options
  --json           one JSON document on stdout, for scripts (errors too: {"error": {"code", "message"}});
                   run it as \`npm run --silent ops -- … --json\`, or npm prints its banner on stdout
  --verbose        the backend's own log lines (ids and outcomes) on stderr
  -h, --help       this text; <command> --help for one command

Durations: 45s, 30m, 12h, 7d. A progress line shows on stderr for long runs when it is a terminal.
No output holds a secret, a token or a payload body; only \`delivery <event_id> --body\` prints one
delivery's raw body. Tables and views show control and bidi characters as escapes (\\u001b, \\u202e),
and times in ISO-8601; --json keeps every value exact.

${EXIT_CODES}
`;
}
