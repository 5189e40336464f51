import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '#local/dynamodb';

/**
 * `npm start` as a newcomer runs it, against this working tree (the closest a test gets to a fresh
 * clone): its own ports, its own data directory, its own DynamoDB Local.
 */
const ROOT = resolve(import.meta.dirname, '../..');

interface Run {
  child: ChildProcess;
  pid: number;
  output(): string;
  waitFor(text: string, timeoutMs: number): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** The environment of a shell that never ran the stack: nothing a test stack set leaks in. */
function freshEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    const ours =
      /^(TERRA_|CONNECTIONS_TABLE|INBOX_TABLE|DYNAMODB_ENDPOINT|ARCHIVE_|PUBLIC_API_URL|REDIRECT_TARGETS)/;
    if (!ours.test(name)) env[name] = value;
  }
  return { ...env, ...extra };
}

function launch(command: string, args: string[], env: NodeJS.ProcessEnv): Run {
  // A process group of its own, like a shell's foreground job, so the test can press "Ctrl-C" on it.
  const child = spawn(command, args, { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const listeners = new Set<() => void>();
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once('exit', (code, signal) => done({ code, signal })),
  );
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  const pid = child.pid;
  cleanups.push(() => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  return {
    child,
    pid,
    output: () => output,
    exited,
    waitFor: (text, timeoutMs) =>
      new Promise<void>((done, fail) => {
        const check = () => {
          if (!output.includes(text)) return;
          listeners.delete(check);
          clearTimeout(timer);
          done();
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          fail(new Error(`no "${text}" within ${timeoutMs} ms; output so far:\n${output}`));
        }, timeoutMs);
        listeners.add(check);
        void exited.then(() => {
          if (listeners.has(check)) {
            listeners.delete(check);
            clearTimeout(timer);
            fail(new Error(`exited before printing "${text}"; output:\n${output}`));
          }
        });
        check();
      }),
  };
}

interface Proc {
  pid: number;
  ppid: number;
  state: string;
  command: string;
}

function processes(): Proc[] {
  return execFileSync('ps', ['-A', '-o', 'pid=,ppid=,stat=,comm='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => {
      const [pid = '', ppid = '', state = '', ...command] = line.trim().split(/\s+/);
      return { pid: Number(pid), ppid: Number(ppid), state, command: command.join(' ') };
    });
}

/** Every process below `root`, however deep (npm → sh → tsx → node → java). */
function descendants(root: number): Proc[] {
  const all = processes();
  const found: Proc[] = [];
  let parents = new Set([root]);
  while (parents.size) {
    const children = all.filter((proc) => parents.has(proc.ppid));
    found.push(...children);
    parents = new Set(children.map((proc) => proc.pid));
  }
  return found;
}

/** Those of `pids` still running (zombies waiting for a parent to reap them do not count). */
const stillRunning = (pids: number[]) =>
  processes().filter((proc) => pids.includes(proc.pid) && !proc.state.startsWith('Z'));

async function twoFreePorts(): Promise<[number, number]> {
  const first = await freePort();
  let second = await freePort();
  while (second === first) second = await freePort();
  return [first, second];
}

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`${what} took over ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe('npm start', () => {
  it('comes up, prints the URLs, serves the demo and leaves no process behind on Ctrl-C', async () => {
    const [port, sandboxPort] = await twoFreePorts();
    const dataDir = tempDir('terra-start-');
    const run = launch(
      'npm',
      ['start'],
      freshEnv({ PORT: String(port), SANDBOX_PORT: String(sandboxPort), TERRA_CONNECT_DATA_DIR: dataDir }),
    );
    await run.waitFor('Ctrl-C stops everything.', 60_000);

    const api = `http://localhost:${port}`;
    const output = run.output();
    expect(output).toMatch(/Starting DynamoDB Local \(Java\)… done \(\d+\.\d s\)/);
    expect(output).toContain(`Demo             ${api}/`);
    expect(output).toContain(`API              ${api}`);
    expect(output).toContain(`Webhook URL      ${api}/webhooks/terra`);
    expect(output).toContain('Signing secret   local-signing-secret');
    expect(output).toContain(`Terra            local sandbox at http://localhost:${sandboxPort}`);
    expect(output).toContain(`Data             ${dataDir}`);

    const page = await fetch(`${api}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>terra-connect demo</title>');
    const config = await (await fetch(`${api}/demo/config`)).json();
    expect(config).toEqual({
      sandbox_url: `http://localhost:${sandboxPort}`,
      terra_api_url: `http://localhost:${sandboxPort}/api/v2`,
    });

    const tree = descendants(run.pid);
    const java = tree.filter((proc) => proc.command === 'java');
    expect(java, 'DynamoDB Local runs as a Java child of npm start').toHaveLength(1);
    // Should the test fail, DynamoDB Local still must not outlive it.
    cleanups.push(() => {
      for (const proc of stillRunning(java.map((leftover) => leftover.pid)))
        process.kill(proc.pid, 'SIGKILL');
    });

    // What a terminal does on Ctrl-C: SIGINT to the foreground process group. DynamoDB Local sits in a
    // group of its own, so only npm start's own shutdown can stop it.
    process.kill(-run.pid, 'SIGINT');
    const { code, signal } = await within(run.exited, 20_000, 'stopping');
    expect(run.output()).toContain('Stopping…');
    // npm re-raises the SIGINT on itself once its script has exited, as a shell would expect.
    expect(code === 0 || signal === 'SIGINT', `exit code ${code}, signal ${signal}`).toBe(true);
    expect(stillRunning([run.pid, ...tree.map((proc) => proc.pid)])).toEqual([]);
    await expect(fetch(`${api}/`)).rejects.toThrow();
  }, 90_000);

  it("delivers Terra's webhooks to TERRA_WEBHOOK_URL and POSTs the app's events to EVENT_TARGET_URL", async () => {
    const [port, sandboxPort] = await twoFreePorts();
    const dataDir = tempDir('terra-start-');
    const api = `http://localhost:${port}`;
    const read = async (request: IncomingMessage) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    };
    // A proxy in front of the webhook, as a developer's tunnel or inspector would be: it sees every
    // delivery and passes it on unchanged.
    const proxied: Array<{ type: string; status: number }> = [];
    const proxy = createHttpServer(async (request, response) => {
      const body = await read(request);
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(request.headers)) {
        if (typeof value === 'string' && !['host', 'content-length', 'connection'].includes(name))
          headers[name] = value;
      }
      // Deliveries still arriving while the stack stops get what a proxy answers then: 502.
      const answer = await fetch(`${api}/webhooks/terra`, { method: 'POST', headers, body }).catch(
        () => new Response('{}', { status: 502 }),
      );
      proxied.push({ type: (JSON.parse(body.toString()) as { type: string }).type, status: answer.status });
      response.writeHead(answer.status, { 'content-type': 'application/json' }).end(await answer.text());
    });
    const received: Array<Record<string, unknown>> = [];
    const target = createHttpServer(async (request, response) => {
      received.push(JSON.parse((await read(request)).toString()) as Record<string, unknown>);
      response.writeHead(200).end();
    });
    const [proxyPort, targetPort] = await twoFreePorts();
    await Promise.all([
      new Promise<void>((done) => proxy.listen(proxyPort, '127.0.0.1', () => done())),
      new Promise<void>((done) => target.listen(targetPort, '127.0.0.1', () => done())),
    ]);
    cleanups.push(() => {
      proxy.close();
      target.close();
    });

    const run = launch(
      'npm',
      ['start'],
      freshEnv({
        PORT: String(port),
        SANDBOX_PORT: String(sandboxPort),
        TERRA_CONNECT_DATA_DIR: dataDir,
        TERRA_WEBHOOK_URL: `http://127.0.0.1:${proxyPort}/hook`,
        EVENT_TARGET_URL: `http://127.0.0.1:${targetPort}/events`,
        DELETION_GRACE_SECONDS: '3',
      }),
    );
    await run.waitFor('Ctrl-C stops everything.', 60_000);
    expect(run.output()).toContain(`Sandbox sends to http://127.0.0.1:${proxyPort}/hook (TERRA_WEBHOOK_URL)`);
    // What `npm run ops` reads in another terminal: where events go and the handlers' own settings.
    const runtime = JSON.parse(readFileSync(join(dataDir, 'runtime.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(runtime).toMatchObject({
      eventTargetUrl: `http://127.0.0.1:${targetPort}/events`,
      settings: { DELETION_GRACE_SECONDS: '3' },
    });

    const connected = await fetch(`http://localhost:${sandboxPort}/sandbox/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reference_id: 'proxied-user', provider: 'GARMIN' }),
    });
    expect(connected.status).toBeLessThan(300);
    await within(
      (async () => {
        while (!received.some((event) => event['detail-type'] === 'terra.connection')) {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      })(),
      30_000,
      'the terra.connection event at EVENT_TARGET_URL',
    );
    expect(proxied).toContainEqual({ type: 'auth', status: 200 });
    const event = received.find((envelope) => envelope['detail-type'] === 'terra.connection');
    expect(event).toMatchObject({
      source: 'terra-connect',
      detail: { reference_id: 'proxied-user', status: 'active' },
    });

    process.kill(-run.pid, 'SIGINT');
    await within(run.exited, 20_000, 'stopping');
  }, 90_000);

  it('stops with exit code 1 and says why when DynamoDB Local dies under it', async () => {
    const [port, sandboxPort] = await twoFreePorts();
    const dataDir = tempDir('terra-start-');
    const run = launch(
      process.execPath,
      ['--import', 'tsx', 'local/start.ts'],
      freshEnv({ PORT: String(port), SANDBOX_PORT: String(sandboxPort), TERRA_CONNECT_DATA_DIR: dataDir }),
    );
    await run.waitFor('Ctrl-C stops everything.', 60_000);
    const tree = descendants(run.pid);
    const [java] = tree.filter((proc) => proc.command === 'java');
    expect(java, 'DynamoDB Local runs as a Java child of npm start').toBeDefined();
    if (!java) return;

    // What an out-of-memory kill, or a `kill -9` from another shell, does.
    process.kill(java.pid, 'SIGKILL');
    const { code } = await within(run.exited, 20_000, 'stopping after DynamoDB Local died');
    expect(code).toBe(1);
    expect(run.output()).toContain('terra-connect stopped: DynamoDB Local was killed (SIGKILL)');
    expect(run.output()).toContain(`What was committed is kept in ${dataDir}`);
    expect(stillRunning([run.pid, ...tree.map((proc) => proc.pid)])).toEqual([]);
    await expect(fetch(`http://localhost:${port}/`)).rejects.toThrow();
  }, 90_000);

  it('names the port that is in use, before starting anything', async () => {
    const [port, sandboxPort] = await twoFreePorts();
    const squatter: Server = createServer();
    await new Promise<void>((done) => squatter.listen(sandboxPort, '127.0.0.1', () => done()));
    cleanups.push(() => squatter.close());
    const run = launch(
      process.execPath,
      ['--import', 'tsx', 'local/start.ts'],
      freshEnv({
        PORT: String(port),
        SANDBOX_PORT: String(sandboxPort),
        TERRA_CONNECT_DATA_DIR: tempDir('terra-start-'),
      }),
    );
    expect((await within(run.exited, 20_000, 'failing')).code).toBe(1);
    expect(run.output()).toContain(
      `terra-connect could not start: Port ${sandboxPort} (the Terra sandbox) is in use`,
    );
    expect(run.output()).toContain('SANDBOX_PORT=');
    expect(run.output()).not.toContain('Starting DynamoDB Local');
  }, 30_000);

  it('says how to install Java when it is missing', async () => {
    // A PATH holding node and nothing else.
    const bin = tempDir('terra-path-');
    symlinkSync(process.execPath, join(bin, 'node'));
    const [port, sandboxPort] = await twoFreePorts();
    const run = launch(
      process.execPath,
      ['--import', 'tsx', 'local/start.ts'],
      freshEnv({
        PATH: bin,
        PORT: String(port),
        SANDBOX_PORT: String(sandboxPort),
        TERRA_CONNECT_DATA_DIR: tempDir('terra-start-'),
      }),
    );
    expect((await within(run.exited, 20_000, 'failing')).code).toBe(1);
    expect(run.output()).toContain('Java was not found');
    expect(run.output()).toContain('openjdk-17-jre-headless');
  }, 30_000);
});
