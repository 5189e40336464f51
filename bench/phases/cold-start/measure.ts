import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { startSandbox } from '#sandbox/sandbox';
import { ROUTES } from '#shared/http/routes';
import { createDocumentClient } from '#shared/store/client';
import { ConnectionStore } from '#shared/store/connections';
import {
  type Bundle,
  beyondFloor,
  bundleFunction,
  bundleScript,
  bundleSource,
  carriesDynamoClient,
  entryFileOf,
  importChain,
} from '../../support/build.ts';
import { track } from '../../support/children.ts';
import { freshTables, type Tables, withDynamo } from '../../support/dynamo.ts';
import { deployedEnv, lambdaRuntimeEnv, startBenchAws } from '../../support/lambda-env.ts';
import type { NodeBinary } from '../../support/node22.ts';
import { PROJECT_ROOT, workDir } from '../../support/paths.ts';
import type { StackFacts, StackFunction } from '../../support/stack.ts';
import { median, round, type Spread, spread } from '../../support/stats.ts';
import type { ColdInput, ColdOutput } from './child.ts';
import { type Fixture, REQUESTS, type RealisticRequest } from './requests.ts';

/**
 * Cold start to the first response (requirement 2): for every function the stack deploys, a fresh
 * Node 22 process imports its bundle (built with the stack's own bundling options) and answers one
 * realistic request (requests.ts) against DynamoDB Local, the Terra sandbox, a Secrets Manager
 * stand-in and an S3 sink; the environment is the one the stack gives it. Against a floor: a bundle
 * of the bare DynamoDB client and document client that sends one PutItem. Variants interleave, the
 * order rotating every round; one unrecorded round first; ×floor is the median of per-round ratios.
 * A request marked `warm` is then sent WARM_REQUESTS more times in the same process, one at a time;
 * the floor's process does as many strongly consistent GetItems of the item it put (a read, as a warm
 * read route's least), and warm ×floor is the median of per-round ratios of the processes' medians.
 */
export type FunctionClass = 'webhook' | 'dynamo' | 'no-dynamo';

export interface ColdRow {
  entry: string;
  class: FunctionClass;
  http: boolean;
  memoryMb: number;
  request: string;
  firstResponseMs: Spread;
  importMs: Spread;
  /** First response minus import: the handler's first call (secret read, clients, round trips). */
  handlerMs: Spread;
  ratioToFloor: number;
  importRatioToFloor: number;
  bytes: number;
  zipBytes: number;
  cpuMs: number;
  /** Log bytes the first invocation wrote (median). */
  logBytes: number;
  secretReadsPerColdStart: number;
  /** Which secret source the function read through, over all samples. */
  secretReadsBySource: Record<string, number>;
  /** Answers by status (or `returned`, `error`), over all samples. */
  answers: Record<string, number>;
  /** Wrong answers, with their first reason: a figure from wrong answers is not a cold start. */
  problems: string[];
  /** The largest modules beyond the floor. */
  carries: Array<{ module: string; bytes: number }>;
  notes: string[];
  /** For a request marked `warm`: WARM_REQUESTS invocations per process after the first, all pooled. */
  warm: { requests: number; ms: Spread; ratioToFloor: number } | null;
}

export interface ColdStartResult {
  node: string;
  nodeNote: string | null;
  samples: number;
  secretSource: string;
  stackSource: StackFacts['source'];
  stackNote: string | null;
  floor: {
    firstResponseMs: Spread;
    importMs: Spread;
    /** Its warm GetItems (consistent read of the item it put), pooled, when any request is warm. */
    warmMs: Spread | null;
    bytes: number;
    zipBytes: number;
    problems: string[];
  };
  functions: ColdRow[];
  skipped: Array<{ entry: string; reason: string }>;
}

export const FLOOR_SOURCE = `import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const TableName = process.env.FLOOR_TABLE;
export const handler = async (event) => {
  await doc.send(
    event.read
      ? new GetCommand({ TableName, Key: { event_id: event.id }, ConsistentRead: true })
      : new PutCommand({ TableName, Item: { event_id: event.id, at: Date.now() } }),
  );
  return { statusCode: 200 };
};
`;

/** Invocations after the first answer, per process, for a request marked `warm` (and the floor). */
export const WARM_REQUESTS = 30;

/** The id suffix of a function measured with its archive in a directory instead of S3. */
export const DIR_VARIANT = '@dir';

export function classify(entry: string, dynamo: boolean): FunctionClass {
  return entry === 'terra-webhook' ? 'webhook' : dynamo ? 'dynamo' : 'no-dynamo';
}

interface Variant {
  id: string;
  bundle: Bundle;
  env: Record<string, string>;
  memoryMb: number;
  timeoutMs: number;
  request?: RealisticRequest;
  fixture?: Fixture;
}

interface Run extends ColdOutput {
  logBytes: number;
  secretReads: number;
  /** Reads by secret source, in this sample. */
  secretReadsBy?: Record<string, number>;
  problem?: string;
}

/** Runs one cold start: a fresh process, one request, its answer. */
function coldStart(
  node: string,
  child: string,
  variant: Variant,
  event: unknown,
  inputFile: string,
  warm: { requests: number; event?: unknown },
): Promise<Run> {
  const input: ColdInput = {
    bundle: variant.bundle.file,
    event,
    functionName: `TerraConnect-${variant.id}`,
    memoryMb: variant.memoryMb,
    timeoutMs: variant.timeoutMs,
    warm: warm.requests,
    warmEvent: warm.event,
  };
  writeFileSync(inputFile, JSON.stringify(input));
  return new Promise((resolve) => {
    const proc = spawn(node, [child, inputFile], {
      env: variant.env,
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
    let logBytes = 0;
    let stderr = '';
    let result = '';
    proc.stdout?.on('data', (chunk: Buffer) => {
      logBytes += chunk.length;
    });
    proc.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-2000);
    });
    proc.stdio[3]?.on('data', (chunk: Buffer) => {
      result += chunk.toString();
    });
    const timer = setTimeout(() => proc.kill('SIGKILL'), variant.timeoutMs + 20_000);
    const stop = track(() => {
      proc.kill('SIGKILL');
    });
    proc.once('close', (code) => {
      clearTimeout(timer);
      void stop();
      try {
        resolve({ ...(JSON.parse(result) as ColdOutput), logBytes, secretReads: 0 });
      } catch {
        const why =
          stderr
            .trim()
            .split('\n')
            .find((line) => /Error/.test(line)) ?? stderr.trim().split('\n')[0];
        resolve({
          importMs: Number.NaN,
          firstResponseMs: Number.NaN,
          cpuMs: Number.NaN,
          logBytes,
          secretReads: 0,
          error: `the process exited (${code}) without answering: ${why ?? ''}`,
        });
      }
    });
  });
}

/** DynamoDB Local's JVM warms up over thousands of requests; both sides should meet a warm one. */
async function warmDynamo(endpoint: string, table: string): Promise<void> {
  const doc = createDocumentClient({ dynamoEndpoint: endpoint });
  try {
    for (let i = 0; i < 1500; i += 25) {
      await Promise.all(
        Array.from({ length: 25 }, (_, k) =>
          doc.send(new PutCommand({ TableName: table, Item: { event_id: `warm-${i + k}`, at: Date.now() } })),
        ),
      );
    }
  } finally {
    doc.destroy();
  }
}

export async function measureColdStart(options: {
  samples: number;
  node: NodeBinary;
  secretSource: string;
  stack: StackFacts;
  log: (line: string) => void;
}): Promise<{ result: ColdStartResult; bundles: Map<string, Bundle> }> {
  const { samples, node, stack, log } = options;
  const dir = workDir('cold-start');

  // Every entry the stack deploys, every route, and the workers on their way.
  const deployed = new Map(stack.functions.map((fn) => [fn.entry, fn]));
  const entries = [...new Set([...ROUTES.map((r) => r.entry), ...stack.functions.map((f) => f.entry)])];
  const skipped: ColdStartResult['skipped'] = [];
  const chosen: Array<{ fn: StackFunction; request: RealisticRequest; bundle: Bundle }> = [];
  log(`Bundling ${entries.length} entries with the stack's options …`);
  const bundles = new Map<string, Bundle>();
  for (const entry of entries) {
    const file = entryFileOf(entry);
    const fn = deployed.get(entry);
    const request = REQUESTS[entry];
    if (!existsSync(file)) {
      skipped.push({ entry, reason: `${file.replace(PROJECT_ROOT, '')} does not exist yet` });
      continue;
    }
    let bundle: Bundle | undefined;
    try {
      bundle = await bundleFunction(entry, join(dir, entry));
    } catch (error) {
      skipped.push({
        entry,
        reason: `does not bundle: ${(error as Error).message.split('\n').slice(0, 2).join(' ')}`,
      });
      continue;
    }
    if (bundle) bundles.set(entry, bundle);
    if (!fn) skipped.push({ entry, reason: 'the stack does not deploy it (yet)' });
    else if (!request)
      skipped.push({
        entry,
        reason: 'no realistic request for it in bench/phases/cold-start/requests.ts yet',
      });
    else if (bundle) chosen.push({ fn, request, bundle });
  }
  const floorBundle = await bundleSource(FLOOR_SOURCE, join(dir, 'floor'));
  const childScript = await bundleScript(
    join(PROJECT_ROOT, 'bench', 'phases', 'cold-start', 'child.ts'),
    join(dir, 'child.mjs'),
  );

  const result = await withDynamo(async (dynamo) => {
    const floorTables = await freshTables(dynamo.endpoint, 'cold-floor');
    log('Warming DynamoDB Local …');
    await warmDynamo(dynamo.endpoint, floorTables.inboxTable);

    const devId = 'bench-dev-id';
    const apiKey = 'bench-api-key';
    const signingSecret = 'bench-signing-secret';
    const aws = await startBenchAws({
      secretSource: options.secretSource,
      credentials: { dev_id: devId, api_key: apiKey, signing_secret: signingSecret },
      keepObjects: true,
    });
    // No webhook URL and no retries: the deliveries the sandbox makes on connect go nowhere, at once.
    const sandbox = await startSandbox({
      port: 0,
      devId,
      apiKey,
      signingSecret,
      userLimit: null,
      retryScheduleMs: [],
    });
    const stopSandbox = track(() => sandbox.stop());
    const doc = createDocumentClient({ dynamoEndpoint: dynamo.endpoint });
    try {
      const terraHeaders = { 'dev-id': devId, 'x-api-key': apiKey, 'content-type': 'application/json' };
      const fixtureFor = (tables: Tables): Fixture => {
        const store = new ConnectionStore(doc, tables);
        return {
          tables,
          signingSecret,
          putObject: aws.putObject,
          published: aws.published,
          seed: async (events) => {
            for (const event of events) await store.apply([event]);
          },
          async connectAtTerra(referenceId) {
            const response = await fetch(`${sandbox.url}/sandbox/users`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({
                provider: 'GARMIN',
                reference_id: referenceId,
                account: `bench-${randomUUID()}`,
              }),
            });
            if (!response.ok) throw new Error(`sandbox: connecting a user answered ${response.status}`);
            return ((await response.json()) as { user_id: string }).user_id;
          },
          async removeAtTerra(userId) {
            await fetch(`${sandbox.apiUrl}/auth/deauthenticateUser?user_id=${encodeURIComponent(userId)}`, {
              method: 'DELETE',
              headers: terraHeaders,
            }).then((r) => r.arrayBuffer());
          },
        };
      };

      // The floor is deployed as the stack would deploy one more function: the same NODE_OPTIONS, if any.
      const nodeOptions = stack.functions.find((fn) => fn.environment.NODE_OPTIONS)?.environment.NODE_OPTIONS;
      const variants: Variant[] = [
        {
          id: 'floor',
          bundle: floorBundle,
          memoryMb: 512,
          timeoutMs: 10_000,
          // As the stack would deploy it: its runtime variables and NODE_OPTIONS, the same endpoint.
          env: {
            ...lambdaRuntimeEnv('floor', 512),
            ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}),
            AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
            FLOOR_TABLE: floorTables.inboxTable,
          },
        },
      ];
      for (const { fn, request, bundle } of chosen) {
        const tables = await freshTables(dynamo.endpoint, `cold-${fn.entry}`);
        const { env, unresolved } = deployedEnv(
          fn,
          aws.localAws(dynamo.endpoint, tables, {
            apiUrl: sandbox.apiUrl,
            widgetSessionUrl: `${sandbox.url}/api/widget/session`,
          }),
        );
        if (unresolved.length) {
          skipped.push({
            entry: fn.entry,
            reason: `no local value for ${unresolved.join(', ')} (add one to LOCAL_VALUES in bench/support/lambda-env.ts)`,
          });
          continue;
        }
        const fixture = fixtureFor(tables);
        await request.setup?.(fixture);
        const variant = {
          id: fn.entry,
          bundle,
          env,
          memoryMb: fn.memoryMb,
          timeoutMs: fn.timeoutSeconds * 1000,
          request,
          fixture,
        };
        variants.push(variant);
        // A function that archives to S3 is also measured archiving to a directory (same bundle, the
        // one setting changed): the figure to fall back on when its S3 write cannot reach the stand-in.
        if (env.ARCHIVE_BUCKET) {
          const { ARCHIVE_BUCKET: _bucket, ...rest } = env;
          const archiveDir = join(dir, `${fn.entry}-archive`);
          variants.push({
            ...variant,
            id: `${fn.entry}${DIR_VARIANT}`,
            env: { ...rest, ARCHIVE_DIR: archiveDir },
          });
        }
      }

      log(
        `Cold starts on Node ${node.version}: ${samples} samples × ${variants.length} variants, interleaved (+1 unrecorded round) …`,
      );
      const runs = new Map<string, Run[]>(variants.map((v) => [v.id, []]));
      const inputFile = join(dir, 'input.json');
      const anyWarm = variants.some((v) => v.request?.warm);
      for (let round = -1; round < samples; round++) {
        for (let k = 0; k < variants.length; k++) {
          const variant = variants[(k + Math.max(round, 0)) % variants.length];
          if (!variant) continue;
          const sample =
            variant.request && variant.fixture ? await variant.request.next(variant.fixture) : undefined;
          const event = sample?.event ?? { id: randomUUID() };
          const readsBefore = aws.secretReads();
          const warm =
            variant.id === 'floor'
              ? { requests: anyWarm ? WARM_REQUESTS : 0, event: { ...(event as object), read: true } }
              : { requests: variant.request?.warm ? WARM_REQUESTS : 0 };
          const run = await coldStart(node.path, childScript, variant, event, inputFile, warm);
          const readsAfter = aws.secretReads();
          run.secretReadsBy = Object.fromEntries(
            Object.entries(readsAfter)
              .map(([name, n]) => [name, n - (readsBefore[name] ?? 0)] as const)
              .filter(([, n]) => n > 0),
          );
          run.secretReads = Object.values(run.secretReadsBy).reduce((sum, n) => sum + n, 0);
          run.problem = run.error ?? sample?.check(run.answer) ?? (run.warmError && `warm: ${run.warmError}`);
          if (!sample && run.answer?.statusCode !== 200) run.problem ??= `answered ${run.answer?.statusCode}`;
          await sample?.cleanup?.().catch(() => undefined);
          if (round >= 0) runs.get(variant.id)?.push(run);
        }
        if (round === -1 || (round + 1) % 5 === 0) log(`  round ${round + 1}/${samples}`);
      }

      const floorRuns = runs.get('floor') ?? [];
      const ok = (r: Run) => Number.isFinite(r.firstResponseMs);
      const perRound = (mine: Run[], pick: (r: Run) => number) =>
        round(
          median(
            mine
              .map((r, i) => {
                const floor = floorRuns[i];
                return floor && ok(r) && ok(floor) ? pick(r) / pick(floor) : Number.NaN;
              })
              .filter(Number.isFinite),
          ),
        );
      const warmMedian = (r: Run | undefined) => median(r?.warmMs ?? []);
      const warmOf = (mine: Run[]): ColdRow['warm'] => ({
        requests: WARM_REQUESTS,
        ms: spread(mine.flatMap((r) => r.warmMs ?? [])),
        ratioToFloor: round(
          median(mine.map((r, i) => warmMedian(r) / warmMedian(floorRuns[i])).filter(Number.isFinite)),
        ),
      });
      const problemsOf = (mine: Run[]) => {
        const problems = new Map<string, number>();
        for (const r of mine) if (r.problem) problems.set(r.problem, (problems.get(r.problem) ?? 0) + 1);
        return [...problems].map(([problem, n]) => `${n}× ${problem}`);
      };
      const answersOf = (mine: Run[]) => {
        const answers: Record<string, number> = {};
        for (const r of mine) {
          const key = r.error
            ? 'error'
            : r.answer?.statusCode !== undefined
              ? String(r.answer.statusCode)
              : 'returned';
          answers[key] = (answers[key] ?? 0) + 1;
        }
        return answers;
      };
      const functions: ColdRow[] = [];
      for (const variant of variants.slice(1)) {
        const fn = deployed.get(variant.id.replace(DIR_VARIANT, ''));
        if (!fn) continue;
        const mine = runs.get(variant.id) ?? [];
        const good = mine.filter(ok);
        const notes: string[] = [];
        const carries = carriesDynamoClient(variant.bundle);
        if (variant.id.endsWith(DIR_VARIANT))
          notes.push(
            'the same bundle with ARCHIVE_DIR in place of ARCHIVE_BUCKET: no S3 write in its first response',
          );
        if (fn.dynamo && !carries)
          notes.push('granted DynamoDB by the stack, yet its bundle carries no DynamoDB client');
        if (!fn.dynamo && carries) {
          const chain = importChain(
            variant.bundle,
            entryFileOf(variant.id),
            /node_modules\/@aws-sdk\/client-dynamodb\//,
          );
          notes.push(
            `carries the DynamoDB client though the stack grants it no DynamoDB action${chain.length ? `, through ${chain.join(' → ')}` : ''}`,
          );
        }
        functions.push({
          entry: variant.id,
          class: classify(fn.entry, fn.dynamo),
          http: fn.http,
          memoryMb: fn.memoryMb,
          request: variant.request?.describe ?? '',
          firstResponseMs: spread(good.map((r) => r.firstResponseMs)),
          importMs: spread(good.map((r) => r.importMs)),
          handlerMs: spread(good.map((r) => r.firstResponseMs - r.importMs)),
          ratioToFloor: perRound(mine, (r) => r.firstResponseMs),
          importRatioToFloor: perRound(mine, (r) => r.importMs),
          bytes: variant.bundle.bytes,
          zipBytes: variant.bundle.zipBytes,
          cpuMs: round(median(good.map((r) => r.cpuMs))),
          logBytes: round(median(good.map((r) => r.logBytes)), 0),
          secretReadsPerColdStart: round(median(good.map((r) => r.secretReads))),
          secretReadsBySource: mine.reduce<Record<string, number>>((sum, r) => {
            for (const [name, n] of Object.entries(r.secretReadsBy ?? {})) sum[name] = (sum[name] ?? 0) + n;
            return sum;
          }, {}),
          answers: answersOf(mine),
          problems: problemsOf(mine),
          carries: beyondFloor(variant.bundle, floorBundle),
          notes,
          warm: variant.request?.warm ? warmOf(mine) : null,
        });
      }
      const goodFloor = floorRuns.filter(ok);
      return {
        node: node.version,
        nodeNote: node.note ?? null,
        samples,
        secretSource: aws.secretSource,
        stackSource: stack.source,
        stackNote: stack.note ?? null,
        floor: {
          firstResponseMs: spread(goodFloor.map((r) => r.firstResponseMs)),
          importMs: spread(goodFloor.map((r) => r.importMs)),
          warmMs: anyWarm ? spread(goodFloor.flatMap((r) => r.warmMs ?? [])) : null,
          bytes: floorBundle.bytes,
          zipBytes: floorBundle.zipBytes,
          problems: problemsOf(floorRuns),
        },
        functions,
        skipped,
      } satisfies ColdStartResult;
    } finally {
      doc.destroy();
      await stopSandbox();
      await aws.stop();
    }
  });
  return { result, bundles };
}
