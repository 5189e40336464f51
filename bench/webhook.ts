import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { type DynamoLocal, localClient, startDynamoLocal } from '../local/dynamodb.ts';
import { ensureTables } from '../local/tables.ts';
import { signedHeaders } from '../test/helpers/signing.ts';
import { deliveryMix, deliveryStream } from './deliveries.ts';
import { drive, type Throughput, throughput } from './drive.ts';
import { CDK_BUNDLING, PROJECT_ROOT } from './lib.ts';
import type { MemoryMessage, MemoryResult, WireDelivery } from './memory-worker.ts';
import type { HttpConfig, InProcessConfig, InProcessResult } from './webhook-worker.ts';

/** Issue 6 §2 and §4, parent side: DynamoDB Local, the worker processes, the HTTP client. */
export const SECRET = 'bench-signing-secret';

type WorkerMessage =
  | { kind: 'result'; result: unknown }
  | { kind: 'ready'; webhookUrl?: string }
  | { kind: 'sampled'; events: number }
  | { kind: 'error'; error: string };

/** A child that answers over IPC; its stdout (handler logs) is discarded, stderr kept for failures. */
class Worker {
  private stderr = '';
  private readonly messages: WorkerMessage[] = [];
  private waiting?: (message: WorkerMessage) => void;
  readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcess) {
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
    child.on('message', (message: WorkerMessage) => {
      if (this.waiting) {
        const waiting = this.waiting;
        this.waiting = undefined;
        waiting(message);
      } else this.messages.push(message);
    });
    this.exited = new Promise((done) => child.once('exit', (code) => done(code)));
  }

  async next(): Promise<WorkerMessage> {
    const queued = this.messages.shift();
    if (queued) return queued;
    const message = await Promise.race([
      new Promise<WorkerMessage>((done) => {
        this.waiting = done;
      }),
      this.exited.then(
        (code): WorkerMessage => ({ kind: 'error', error: `worker exited (${code}) without answering` }),
      ),
    ]);
    if (message.kind === 'error') throw new Error(`${message.error}\n${this.stderr}`);
    return message;
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

const workerEnv = (): NodeJS.ProcessEnv => ({
  ...process.env,
  POWERTOOLS_SERVICE_NAME: 'terra-connect',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
});

function forkTs(mode: string, config: unknown): Worker {
  return new Worker(
    fork(join(PROJECT_ROOT, 'bench', 'webhook-worker.ts'), [mode, JSON.stringify(config)], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env: workerEnv(),
    }),
  );
}

/** DynamoDB Local for the duration of `run`; stopped on the way out, Ctrl-C included (it runs detached). */
export async function withDynamo<T>(run: (dynamo: DynamoLocal) => Promise<T>): Promise<T> {
  const dynamo = await startDynamoLocal();
  const interrupted = (signal: NodeJS.Signals) => {
    void dynamo.stop().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    return await run(dynamo);
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    await dynamo.stop();
  }
}

export async function inProcess(endpoint: string, options: Omit<InProcessConfig, 'endpoint' | 'secret'>) {
  const worker = forkTs('inprocess', { ...options, endpoint, secret: SECRET } satisfies InProcessConfig);
  try {
    const message = await worker.next();
    if (message.kind !== 'result') throw new Error(`unexpected message ${message.kind}`);
    return message.result as InProcessResult;
  } finally {
    worker.kill();
  }
}

export interface HttpRow extends Throughput {
  concurrency: number;
  statuses: Record<string, number>;
}

/** The local stack (HTTP adapter + the same handlers) in a child; this process is the HTTP client. */
export async function overHttp(
  endpoint: string,
  events: number,
  concurrencies: number[],
): Promise<HttpRow[]> {
  const worker = forkTs('http', { endpoint, secret: SECRET } satisfies HttpConfig);
  try {
    const ready = await worker.next();
    const webhookUrl = ready.kind === 'ready' ? ready.webhookUrl : undefined;
    if (!webhookUrl) throw new Error(`unexpected message ${ready.kind}`);
    const rows: HttpRow[] = [];
    const post = async (body: string, headers: Record<string, string>, statuses: Record<string, number>) => {
      const response = await fetch(webhookUrl, { method: 'POST', headers, body });
      await response.arrayBuffer();
      statuses[response.status] = (statuses[response.status] ?? 0) + 1;
    };
    // Warm the adapter, the handler and the connection pool.
    await drive(deliveryMix({ count: Math.min(200, events), seed: 500, prefix: `hw${Date.now()}` }), 8, (d) =>
      post(d.body, signedHeaders(d.body, { secret: SECRET, traceId: d.trace_id, orderingMs: d.at }), {}),
    );
    for (const [i, concurrency] of concurrencies.entries()) {
      const deliveries = deliveryMix({ count: events, seed: 600 + i, prefix: `h${i}-${Date.now()}` });
      const prepared = deliveries.map((d) => ({
        body: d.body,
        headers: signedHeaders(d.body, { secret: SECRET, traceId: d.trace_id, orderingMs: d.at }),
      }));
      const statuses: Record<string, number> = {};
      const run = await drive(prepared, concurrency, (d) => post(d.body, d.headers, statuses));
      rows.push({ concurrency, ...throughput([run]), statuses });
    }
    worker.child.send('stop');
    await Promise.race([worker.exited, new Promise((done) => setTimeout(done, 10_000))]);
    return rows;
  } finally {
    worker.kill();
  }
}

/** Bundles the memory worker (plain Node, no tsx) and runs the webhook bundle in it. */
export async function memory(
  endpoint: string,
  options: { bundle: string; events: number; concurrency: number; node: string },
): Promise<MemoryResult> {
  const dir = join(PROJECT_ROOT, 'bench', '.build', 'memory');
  const script = join(dir, 'worker.mjs');
  await build({
    entryPoints: [join(PROJECT_ROOT, 'bench', 'memory-worker.ts')],
    outfile: script,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // As the stack's bundles: lets a bundled CommonJS dependency call require() in an ES module.
    banner: CDK_BUNDLING.banner,
    absWorkingDir: PROJECT_ROOT,
    logLevel: 'silent',
  });
  const suffix = `${process.pid}-${Date.now().toString(36)}`;
  const tables = { connectionsTable: `mem-${suffix}-connections`, inboxTable: `mem-${suffix}-inbox` };
  const admin = localClient(endpoint);
  await ensureTables(admin, tables);
  admin.destroy();
  const archive = mkdtempSync(join(tmpdir(), 'terra-bench-archive-'));
  const worker = new Worker(
    fork(
      script,
      [JSON.stringify({ bundle: options.bundle, concurrency: options.concurrency, secret: SECRET })],
      {
        execPath: options.node,
        execArgv: ['--expose-gc'],
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
        env: {
          PATH: process.env.PATH,
          TZ: ':UTC',
          AWS_REGION: 'eu-west-1',
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          POWERTOOLS_SERVICE_NAME: 'terra-connect',
          DYNAMODB_ENDPOINT: endpoint,
          CONNECTIONS_TABLE: tables.connectionsTable,
          INBOX_TABLE: tables.inboxTable,
          ARCHIVE_DIR: archive,
          TERRA_SIGNING_SECRET: SECRET,
        },
      },
    ),
  );
  const expect = async (kind: WorkerMessage['kind']) => {
    const message = await worker.next();
    if (message.kind !== kind) throw new Error(`memory worker: expected ${kind}, got ${message.kind}`);
    return message;
  };
  const send = (message: MemoryMessage) => worker.child.send(message);
  try {
    await expect('ready');
    // Generated here, sent a batch at a time: the handler's process holds one batch, never the stream.
    const stream = deliveryStream({ count: options.events, seed: 7, prefix: `m${suffix}` });
    for (;;) {
      const deliveries: WireDelivery[] = [];
      // Not for…of: leaving one early would close the generator.
      for (let next = stream.next(); !next.done; next = stream.next()) {
        deliveries.push({ trace_id: next.value.trace_id, at: next.value.at, body: next.value.body });
        if (deliveries.length === 1000) break;
      }
      if (deliveries.length === 0) break;
      for (let i = 0; i < deliveries.length; i += 50) {
        send({ kind: 'part', deliveries: deliveries.slice(i, i + 50), last: i + 50 >= deliveries.length });
      }
      await expect('sampled');
    }
    send({ kind: 'done' });
    const message = await expect('result');
    return (message as { result: MemoryResult }).result;
  } finally {
    worker.kill();
    rmSync(archive, { recursive: true, force: true });
  }
}
