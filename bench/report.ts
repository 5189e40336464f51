import type { Results } from './results.ts';
import { coldLimit } from './targets.ts';

/** `npm run bench`'s stdout: the machine, every phase's table, and the targets met or missed. */
type Cell = string | number;

export function table(headers: string[], rows: Cell[][]): string {
  const text = [headers, ...rows.map((row) => row.map(String))];
  const widths = headers.map((_, i) => Math.max(...text.map((row) => (row[i] ?? '').length)));
  // Numbers (and ratios, sizes) right-aligned; words left-aligned.
  const numeric = headers.map((_, i) =>
    rows.every((row) => /^[-−+]?[\d.,]+\s?(ms|×|KB|MB|B|%|\/s|WU|RU)?$|^—$/.test(String(row[i] ?? ''))),
  );
  const line = (row: string[]) =>
    row
      .map((cell, i) => (numeric[i] ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(text[0] ?? []), line(widths.map((w) => '─'.repeat(w))), ...text.slice(1).map(line)]
    .map((row) => `  ${row}`)
    .join('\n');
}

const fin = (value: number | null | undefined) =>
  value !== null && value !== undefined && Number.isFinite(value);
export const ms = (value: number | null | undefined) =>
  fin(value) ? `${(value as number).toFixed(1)} ms` : '—';
export const times = (value: number | null | undefined) =>
  fin(value) ? `${(value as number).toFixed(2)}×` : '—';
export const kb = (bytes: number) =>
  bytes >= 1024 ? `${Math.round(bytes / 1024)} KB` : bytes > 0 ? `${bytes} B` : '—';
export const usd = (value: number) => `$${value < 0.01 && value > 0 ? value.toFixed(4) : value.toFixed(2)}`;
const num = (value: number | null | undefined, digits = 1) =>
  fin(value) ? (value as number).toFixed(digits) : '—';
const pct = (part: number, whole: number) => `${((100 * part) / Math.max(1, whole)).toFixed(1)}%`;
const counts = (record: Record<string, number>) =>
  Object.entries(record)
    .sort((a, b) => b[1] - a[1])
    .map(([key, n]) => `${key}×${n}`)
    .join(' ') || '—';

export function render(results: Results): string {
  const out: string[] = [];
  const say = (line = '') => out.push(line);
  const m = results.machine;
  const k = results.knobs;
  say(`terra-connect benchmarks · ${results.startedAt.slice(0, 16).replace('T', ' ')} UTC`);
  say(`  CPU ${m.cpu} × ${m.cores} · ${m.memoryGb} GB · ${m.platform}`);
  say(
    `  Node: host ${m.hostNode} (orchestration, in-process webhook, HTTP, burst) · ${m.lambdaNode} for cold starts and memory${m.lambdaNodeNote ? ` (${m.lambdaNodeNote})` : ''}`,
  );
  say(
    `  samples: cold start ${k.samples} processes per variant · webhook ${k.webhookRounds}×${k.webhookEvents} events per side per concurrency over ${k.users} users · HTTP ${k.httpEvents} per concurrency · burst ${k.burstEvents} at ${k.burstConcurrency} · memory ${k.memoryWarmup} warm-up + ${k.memoryEvents} at ${k.memoryConcurrency}`,
  );
  const loads = Object.entries(m.loadAverage);
  if (loads.length) {
    const worst = Math.max(...loads.flatMap(([, l]) => [l.before[0] ?? 0, l.after[0] ?? 0]));
    say(
      `  load average (1 min) around the phases: ${loads.map(([name, l]) => `${name} ${l.before[0]}→${l.after[0]}`).join(', ')}${worst > m.cores ? ` — above the ${m.cores} cores: other work shared this machine, so figures are noisier than on an idle one` : ''}`,
    );
  }
  say(
    `  phases: ${k.phases.join(', ')}${k.unknownPhases.length ? ` (unknown, ignored: ${k.unknownPhases.join(', ')})` : ''}`,
  );
  if (results.stack)
    say(
      `  functions, memory sizes and grants read from the stack (${results.stack.source === 'synth' ? 'synthesized offline' : `FALLBACK TABLE: ${results.stack.note}`})`,
    );

  const cold = results.coldStart;
  if (cold) {
    say();
    say(
      `Cold start to the first response · fresh Node ${cold.node} process per sample, bundle built with the stack's BUNDLING, one realistic request, ${cold.samples} samples per variant, interleaved; ×floor = median of per-round ratios`,
    );
    say(
      `  secret sources running: ${cold.secretSource}; DynamoDB Local; Terra = the sandbox; S3, EventBridge and SQS = local stand-ins; environment as the stack sets it`,
    );
    say(
      `  floor: bare DynamoDBClient + DynamoDBDocumentClient, one PutItem: first response ${ms(cold.floor.firstResponseMs.median)} (p90 ${ms(cold.floor.firstResponseMs.p90)}), import ${ms(cold.floor.importMs.median)}, ${kb(cold.floor.bytes)} / ${kb(cold.floor.zipBytes)} gzip${cold.floor.problems.length ? ` — PROBLEMS: ${cold.floor.problems.join('; ')}` : ''}`,
    );
    const rows = Object.values(cold.functions);
    say(
      table(
        [
          'function',
          'class',
          'MB',
          'first resp.',
          'p90',
          'import',
          'p90',
          '×floor',
          'import ×',
          'target',
          'bundle',
          'gzip',
          'answers',
        ],
        rows.map((row) => {
          const limit = coldLimit(row);
          return [
            row.entry,
            row.class,
            row.memoryMb,
            ms(row.firstResponseMs.median),
            ms(row.firstResponseMs.p90),
            ms(row.importMs.median),
            ms(row.importMs.p90),
            times(row.ratioToFloor),
            times(row.importRatioToFloor),
            limit === undefined ? '—' : `≤ ${limit.toFixed(2)}`,
            kb(row.bytes),
            kb(row.zipBytes),
            counts(row.answers),
          ];
        }),
      ),
    );
    for (const row of rows) {
      if (!row.warm) continue;
      say(
        `  warm ${row.entry}: ${row.warm.requests} more of its request per process after the first answer, one at a time: p50 ${ms(row.warm.ms.median)}, p90 ${ms(row.warm.ms.p90)}, ${times(row.warm.ratioToFloor)} floor (the floor's process, as many consistent GetItems of its item: p50 ${ms(cold.floor.warmMs?.median)}, p90 ${ms(cold.floor.warmMs?.p90)}); cold first response ${ms(row.firstResponseMs.median)}, ${times(row.ratioToFloor)}`,
      );
    }
    const readBy = [...new Set(rows.flatMap((row) => Object.keys(row.secretReadsBySource)))];
    say(
      `  secret read at cold start through: ${
        readBy.length
          ? readBy
              .map(
                (name) =>
                  `${name} (${rows
                    .filter((row) => row.secretReadsBySource[name])
                    .map((row) => row.entry)
                    .join(', ')})`,
              )
              .join('; ')
          : 'no source (no function read the secret)'
      }`,
    );
    for (const row of rows) {
      if (row.problems.length) say(`  ! ${row.entry}: wrong answers: ${row.problems.join('; ')}`);
      for (const note of row.notes) say(`  · ${row.entry}: ${note}`);
    }
    for (const skip of cold.skipped) say(`  – skipped ${skip.entry}: ${skip.reason}`);
    say('  requests:');
    for (const row of rows) say(`    ${row.entry}: ${row.request}`);
  }

  if (results.terraClient) {
    say();
    say(
      `Terra client: ours against terra-api, each bundled with the stack's options and constructed; await import in fresh Node ${m.lambdaNode} processes, interleaved`,
    );
    say(
      table(
        ['variant', 'import', 'p90', 'bundle', 'gzip', 'error'],
        results.terraClient.map((row) => [
          row.variant,
          ms(row.importMs.median),
          ms(row.importMs.p90),
          kb(row.bytes),
          kb(row.zipBytes),
          row.error ?? '',
        ]),
      ),
    );
  }

  const webhook = results.webhook;
  if (webhook) {
    say();
    say(
      `Webhook in-process on DynamoDB Local · terraWebhookHandler(env) · interleaved ABBA with the floor (two PutItems per event)`,
    );
    say(`  mix: ${webhook.mix}`);
    say(
      table(
        [
          'concurrency',
          'events/s',
          'p50',
          'p99',
          'floor/s',
          'floor p50',
          'floor p99',
          '×floor',
          'rounds',
          'outcomes',
        ],
        webhook.rows.map((row) => [
          row.concurrency,
          num(row.ours.eventsPerSec),
          ms(row.ours.p50Ms),
          ms(row.ours.p99Ms),
          num(row.floor.eventsPerSec),
          ms(row.floor.p50Ms),
          ms(row.floor.p99Ms),
          times(row.ratioToFloor),
          row.roundRatios.map((r) => r.toFixed(2)).join(' '),
          counts(row.outcomes),
        ]),
      ),
    );
    say(
      `  per delivery type (medians; ReturnConsumedCapacity TOTAL; refused conditional writes billed by DynamoDB's rule):`,
    );
    const kinds = Object.entries(webhook.byKind).sort((a, b) => b[1].deliveries - a[1].deliveries);
    say(
      table(
        ['type', 'share', 'round trips', 'write units', 'read units', 'commands'],
        [
          ...kinds.map(([kind, f]) => [
            kind,
            pct(f.deliveries, webhook.deliveries),
            num(f.roundTrips, 0),
            num(f.writeUnits),
            num(f.readUnits),
            f.commands,
          ]),
          [
            'all (mean)',
            '100%',
            num(webhook.all.meanRoundTrips, 2),
            num(webhook.all.meanWriteUnits, 2),
            num(webhook.all.meanReadUnits, 2),
            '',
          ],
          [
            'floor',
            '—',
            num(webhook.floorPerEvent.roundTrips, 0),
            num(webhook.floorPerEvent.writeUnits),
            num(webhook.floorPerEvent.readUnits),
            webhook.floorPerEvent.commands,
          ],
        ],
      ),
    );
    if (webhook.rows.some((row) => row.ratioToFloor > 1))
      say(
        "  ! ×floor above 1: the floor's two PutItems took longer than the handler's calls on this DynamoDB Local; the per-round ratios and the load average show how much of that is the machine. The floor is the reference point the targets name, not a proven lower bound.",
      );
    say(
      `  CPU per delivery at concurrency 1: ours ${webhook.cpuMsPerDelivery.ours} ms, floor ${webhook.cpuMsPerDelivery.floor} ms · handler mean ${ms(webhook.meanDurationMs)} · log ${webhook.logBytesPerDelivery} B · archive ${webhook.archive.putsPerDelivery} files, ${kb(webhook.archive.bytesPerDelivery)} per delivery · SDK retries ${webhook.retries}`,
    );
  }

  if (results.http) {
    say();
    say(
      'Webhook through the local HTTP adapter (startLocalStack; the client in this process, the stack in a child)',
    );
    say(
      table(
        ['concurrency', 'events/s', 'p50', 'p99', 'in-process/s', 'answers'],
        results.http.map((row) => [
          row.concurrency,
          num(row.eventsPerSec),
          ms(row.p50Ms),
          ms(row.p99Ms),
          num(webhook?.rows.find((r) => r.concurrency === row.concurrency)?.ours.eventsPerSec),
          counts(row.statuses),
        ]),
      ),
    );
  }

  const burst = results.burst;
  if (burst) {
    say();
    say(
      `Burst through the local HTTP adapter: ${burst.deliveries} deliveries (${burst.distinct} distinct) at concurrency ${burst.concurrency}, Terra's retries, over ${burst.users} connected users`,
    );
    say(
      `  drained in ${(burst.drainMs / 1000).toFixed(1)} s (${burst.deliveriesPerSec}/s); ${burst.report.attempts} attempts, ${burst.report.failedAttempts} failed, ${burst.report.abandoned} past Terra's 8 s, ${burst.report.lost} given up`,
    );
    say(`  first answers other than 200: ${counts(burst.not200)}`);
    const c = burst.check;
    say(
      `  ${burst.lost ? 'LOST SOMETHING' : 'nothing lost'}: ${c.unrecorded} distinct deliveries without an inbox item, ${c.missing} of ${c.expectedRecords} expected records missing, ${c.wrong} different, ${c.inboxNotDone} inbox items not closed (model: ${burst.model})`,
    );
  }

  const memory = results.memory;
  if (memory) {
    say();
    say(
      `Memory: the webhook bundle as built, Node ${memory.node}${memory.nodeNote ? ` (${memory.nodeNote})` : ''}, archive to ${memory.archive}, secret through the stand-ins, concurrency ${memory.concurrency}, ${memory.events} events after ${memory.warmup} warm-up; sampled after a full GC${memory.gc ? '' : ' (NO --expose-gc: unreliable)'}`,
    );
    say(
      `  RSS ${memory.rssAfterWarmupMb} MB after the warm-up, ${memory.rssAfterFirstMb} MB after the first 1,000, ${memory.rssAfterAllMb} MB after ${memory.events} (${memory.growthMb >= 0 ? '+' : ''}${memory.growthMb} MB); live heap ${memory.heapAfterFirstMb} → ${memory.heapAfterAllMb} MB; peak RSS ${memory.peakRssMb} MB; ${memory.eventsPerSec}/s; answers ${counts(memory.statuses)}; ${memory.s3Puts} PUTs`,
    );
    say(`  RSS by thousand: ${memory.samples.map((s) => s.rssMb).join(' ')}`);
  }

  if (results.verify) {
    say();
    say(
      "Signature verification: ours against terra-api's verifyTerraWebhookSignature (ops/s, median of rounds)",
    );
    say(
      table(
        ['body', 'ours', 'terra-api', 'ratio'],
        results.verify.map((row) => [
          kb(row.bodyBytes),
          row.oursOpsPerSec,
          row.terraApiOpsPerSec,
          times(row.ratio),
        ]),
      ),
    );
  }

  const cost = results.cost;
  if (cost) {
    say();
    say(`Cost per 1M deliveries at the measured mix · ${cost.pricesNote}`);
    say(
      table(
        ['item', 'basis', 'USD'],
        [...cost.lines.map((l) => [l.item, l.basis, usd(l.usd)]), ['total', '', usd(cost.totalUsd)]],
      ),
    );
    say(
      `  plus, not per delivery: ${cost.fixedMonthlyUsd.map((l) => `${l.item} ${usd(l.usd)} a month`).join(', ')}${cost.coldStartsPer1000Usd !== null ? `; webhook init phase ≈ ${usd(cost.coldStartsPer1000Usd)} per 1,000 cold starts` : ''}`,
    );
    if (results.perDelivery)
      say(`  per delivery, for a capacity model: ${JSON.stringify(results.perDelivery)}`);
  }

  if (Object.keys(results.failures).length) {
    say();
    say('Phases that failed (their figures are null in latest.json):');
    for (const [name, message] of Object.entries(results.failures)) say(`  ! ${name}: ${message}`);
  }

  say();
  const met = results.targets.filter((t) => t.met === true);
  const missed = results.targets.filter((t) => t.met === false);
  const unmeasured = results.targets.filter((t) => t.met === null);
  say(`Targets: ${met.length} met, ${missed.length} missed, ${unmeasured.length} not measured`);
  for (const t of met) say(`  ✓ ${t.target}: ${t.measured} (${t.by})`);
  for (const t of missed) {
    say(`  ✗ ${t.target}: ${t.measured} (${t.by})`);
    if (t.closes) say(`      what closes it: ${t.closes}`);
  }
  for (const t of unmeasured) say(`  ? ${t.target}: ${t.by}`);
  say();
  say(`Written to bench/results/latest.json · ${Math.round(results.durationSeconds)} s`);
  return out.join('\n');
}
