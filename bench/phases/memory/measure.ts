import { fork } from 'node:child_process';
import { join } from 'node:path';
import { type MixDelivery, population, terraHeaders, terraMix } from '../../../test/helpers/traffic.ts';
import { type Bundle, bundleFunction, bundleScript } from '../../support/build.ts';
import { Child } from '../../support/children.ts';
import { freshTables, withDynamo } from '../../support/dynamo.ts';
import { deployedEnv, startBenchAws } from '../../support/lambda-env.ts';
import type { NodeBinary } from '../../support/node22.ts';
import { PROJECT_ROOT, workDir } from '../../support/paths.ts';
import type { StackFunction } from '../../support/stack.ts';
import { round } from '../../support/stats.ts';
import type { MemoryMessage, MemorySample, SignedDelivery } from './worker.ts';

/**
 * Memory (requirement 5): the webhook bundle as built, in Node 22, as deployed (S3 archive, secret read
 * through Secrets Manager), the Terra-like mix at a fixed concurrency, batch by batch: users connected
 * first, a warm-up thousand, then `events` measured. Resident set and live heap are sampled after a
 * full GC after each thousand.
 */
export interface MemoryResult {
  node: string;
  nodeNote: string | null;
  gc: boolean;
  concurrency: number;
  warmup: number;
  events: number;
  samples: MemorySample[];
  rssAfterWarmupMb: number;
  rssAfterFirstMb: number;
  rssAfterAllMb: number;
  /** RSS after all `events` minus RSS after the first thousand measured. */
  growthMb: number;
  heapAfterFirstMb: number;
  heapAfterAllMb: number;
  peakRssMb: number;
  eventsPerSec: number;
  statuses: Record<string, number>;
  s3Puts: number;
  /** Where the webhook archived: S3 as deployed, or a directory when its S3 write could not be served here. */
  archive: string;
}

const SECRET = 'bench-signing-secret';
const BATCH = 1000;

export async function measureMemory(options: {
  node: NodeBinary;
  webhook: StackFunction;
  bundle?: Bundle;
  events: number;
  warmup: number;
  users: number;
  concurrency: number;
  secretSource: string;
}): Promise<MemoryResult> {
  const dir = workDir('memory');
  const bundle =
    options.bundle ?? (await bundleFunction(options.webhook.entry, join(dir, options.webhook.entry)));
  if (!bundle) throw new Error(`functions/${options.webhook.entry}.ts does not exist`);
  const script = await bundleScript(
    join(PROJECT_ROOT, 'bench', 'phases', 'memory', 'worker.ts'),
    join(dir, 'worker.mjs'),
  );

  let s3Puts = () => 0;

  /** One run of the worker in `env`; undefined result (and why) when the users cannot even connect. */
  const attempt = async (
    env: Record<string, string>,
  ): Promise<{ result?: Omit<MemoryResult, 'archive'>; why?: string }> => {
    const worker = new Child(
      fork(script, [JSON.stringify({ bundle: bundle.file, concurrency: options.concurrency })], {
        execPath: options.node.path,
        execArgv: ['--expose-gc'],
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
        env,
      }),
    );
    try {
      await worker.next('ready');
      const batch = async (deliveries: MixDelivery[], sample: boolean): Promise<MemorySample> => {
        // Signed as they go out, in small messages (the transport's buffers stay out of the figures).
        for (let i = 0; i < deliveries.length; i += 50) {
          const part: SignedDelivery[] = deliveries
            .slice(i, i + 50)
            .map((d) => ({ body: d.body, headers: terraHeaders(d, SECRET) }));
          worker.send({
            kind: 'part',
            deliveries: part,
            last: i + 50 >= deliveries.length,
            sample,
          } satisfies MemoryMessage);
        }
        return (await worker.next('sampled')).sample as MemorySample;
      };
      const people = population(options.users, `mp${process.pid}${Date.now().toString(36)}`);
      // The first 50 connects say whether the webhook works in this environment at all.
      const probe = await batch(people.auths.slice(0, 50), false);
      if ((probe.answers['200'] ?? 0) < 50) {
        const answers = Object.entries(probe.answers).map(([status, n]) => `${status}×${n}`);
        return { why: `answered ${answers.join(' ')} to its first 50 connects` };
      }
      for (let i = 50; i < people.auths.length; i += BATCH)
        await batch(people.auths.slice(i, i + BATCH), false);
      // One stream for warm-up and measurement, taken a thousand at a time: never held whole.
      const stream = terraMix({
        count: options.warmup + options.events,
        seed: 7,
        prefix: `m${process.pid}`,
        users: people.users,
      });
      const take = (count: number) => {
        const out: MixDelivery[] = [];
        // Not for…of: leaving one early would close the generator.
        for (let next = stream.next(); !next.done; next = stream.next()) {
          out.push(next.value);
          if (out.length === count) break;
        }
        return out;
      };
      let afterWarmup: MemorySample | undefined;
      for (let left = options.warmup; left > 0; left -= BATCH)
        afterWarmup = await batch(take(Math.min(BATCH, left)), false);
      const samples: MemorySample[] = [];
      for (let left = options.events; left > 0; left -= BATCH)
        samples.push(await batch(take(Math.min(BATCH, left)), true));
      worker.send({ kind: 'done' } satisfies MemoryMessage);
      const result = await worker.next('result');
      const first = samples[0];
      const last = samples[samples.length - 1];
      return {
        result: {
          node: String(result.node),
          nodeNote: options.node.note ?? null,
          gc: result.gc === true,
          concurrency: options.concurrency,
          warmup: options.warmup,
          events: options.events,
          samples,
          rssAfterWarmupMb: afterWarmup?.rssMb ?? Number.NaN,
          rssAfterFirstMb: first?.rssMb ?? Number.NaN,
          rssAfterAllMb: last?.rssMb ?? Number.NaN,
          growthMb: round((last?.rssMb ?? Number.NaN) - (first?.rssMb ?? Number.NaN), 1),
          heapAfterFirstMb: first?.heapUsedMb ?? Number.NaN,
          heapAfterAllMb: last?.heapUsedMb ?? Number.NaN,
          peakRssMb: Number(result.peakRssMb),
          eventsPerSec: Number(result.eventsPerSec),
          statuses: result.statuses as Record<string, number>,
          s3Puts: s3Puts(),
        },
      };
    } finally {
      await worker.stop();
    }
  };

  return withDynamo(async (dynamo) => {
    const tables = await freshTables(dynamo.endpoint, 'memory');
    const aws = await startBenchAws({
      secretSource: options.secretSource,
      credentials: { dev_id: 'bench', api_key: 'bench', signing_secret: SECRET },
      keepObjects: false,
    });
    s3Puts = aws.s3Puts;
    try {
      const envFor = (tables: { connectionsTable: string; inboxTable: string }) => {
        const { env, unresolved } = deployedEnv(
          options.webhook,
          aws.localAws(dynamo.endpoint, tables, {
            apiUrl: 'http://127.0.0.1:9/api/v2',
            widgetSessionUrl: 'http://127.0.0.1:9/api/widget/session',
          }),
        );
        if (unresolved.length) throw new Error(`no local value for ${unresolved.join(', ')}`);
        return env;
      };
      const deployed = envFor(tables);
      const asDeployed = await attempt(deployed);
      if (asDeployed.result)
        return {
          ...asDeployed.result,
          archive: deployed.ARCHIVE_BUCKET ? 'S3 (as deployed)' : 'as deployed',
        };
      // The archive write could not reach the S3 stand-in: the same bundle, its archive in a directory.
      const { ARCHIVE_BUCKET: _bucket, ...rest } = envFor(await freshTables(dynamo.endpoint, 'memory-dir'));
      const fallback = await attempt({ ...rest, ARCHIVE_DIR: join(dir, 'archive') });
      if (!fallback.result)
        throw new Error(`the webhook does not answer 200 even archiving to a directory: ${fallback.why}`);
      return { ...fallback.result, archive: `a directory, since as deployed it ${asDeployed.why}` };
    } finally {
      await aws.stop();
    }
  });
}
