import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { createDemo } from '#demo/serve';
import { type Sandbox, type SandboxOptions, startSandbox } from '#sandbox/sandbox';
import type { Env } from '#shared/config';
import { HTTP_HANDLERS } from '#shared/handlers/index';
import { ROUTES } from '#shared/http/routes';
import { type Archive, DirectoryArchive } from '#shared/webhooks/archive';
import { type LocalDeletionQueue, localDeletionQueue } from './deletions.ts';
import { createDevAuth } from './dev-auth.ts';
import { devRoutes } from './dev-routes.ts';
import { type DynamoLocal, localClient, startDynamoLocal } from './dynamodb.ts';
import { type EventEnvelope, type LocalPipeline, startLocalPipeline } from './pipeline.ts';
import { createLocalServer, type LambdaHandler, type LocalRoute } from './server.ts';
import { ensureTables } from './tables.ts';

/**
 * The whole backend on one machine: DynamoDB Local, the archive in a directory, the Terra sandbox (or
 * real Terra when TERRA_API_URL is set), and the same Lambda handlers behind the local HTTP adapter.
 * Used by `npm start` and by the HTTP tests.
 */
/** Written under the data directory while the stack runs. */
export const RUNTIME_FILE = 'runtime.json';

/**
 * Settings a developer may tune for `npm start` from the shell, as for a deployed function (README,
 * "Configuration"); the stack owns everything else (tables, archive, Terra's URLs and credentials).
 */
export const LOCAL_SETTINGS = [
  'WEBHOOK_TOLERANCE_SECONDS',
  'TERRA_SIGNING_SECRET_PREVIOUS',
  'INBOX_LEASE_SECONDS',
  'INBOX_TTL_DAYS',
  'PAYLOAD_MAX_BYTES',
  'PAYLOAD_TIMEOUT_MS',
  'IDENTITY_CLAIM',
  'TERRA_WIDGET_MODE',
  'TERRA_TIMEOUT_MS',
  'TERRA_MAX_ATTEMPTS',
  'TERRA_DEADLINE_MS',
  'REDIRECT_TARGETS',
  'DEFAULT_REDIRECT_TARGET',
  'PROVIDERS_CACHE_SECONDS',
  'BACKFILL_DAYS',
  'BACKFILL_TYPES',
  'TOMBSTONE_DAYS',
  'DELETION_GRACE_SECONDS',
  'DELETION_BUDGET_MS',
] as const;

/** A developer's REDIRECT_TARGETS as an object; config checks their shape when the handlers start. */
function redirectTargetsOf(value: string | undefined): Record<string, unknown> {
  if (value === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new Error(
      'REDIRECT_TARGETS is not JSON: {"name": {"success": "https://…", "failure": "https://…"}}.',
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error('REDIRECT_TARGETS must be a JSON object of named targets.');
  }
  return parsed as Record<string, unknown>;
}

/** The handlers' settings `npm run ops` needs to act as they do; none of them a secret. */
export const RUNTIME_SETTINGS = [
  'DELETION_GRACE_SECONDS',
  'TOMBSTONE_DAYS',
  'INBOX_LEASE_SECONDS',
  'INBOX_TTL_DAYS',
  'TERRA_TIMEOUT_MS',
  'TERRA_MAX_ATTEMPTS',
  'TERRA_DEADLINE_MS',
  'PAYLOAD_TIMEOUT_MS',
  'PAYLOAD_MAX_BYTES',
] as const;

export const LOCAL_DEFAULTS = {
  port: 3000,
  sandboxPort: 3001,
  signingSecret: 'local-signing-secret',
  devId: 'local-dev-id',
  apiKey: 'local-api-key',
  connectionsTable: 'terra-connect-connections',
  inboxTable: 'terra-connect-inbox',
} as const;

export interface LocalStackOptions {
  /** 0 picks a free port. */
  port?: number;
  /** Where state lives; default `.local/`. */
  dataDir?: string;
  /** Start from empty state. */
  fresh?: boolean;
  /** Keep DynamoDB in memory (tests). */
  inMemory?: boolean;
  signingSecret?: string;
  /** Use an already running DynamoDB Local instead of starting one. */
  dynamoEndpoint?: string;
  tables?: { connectionsTable: string; inboxTable: string };
  /** Talk to this Terra instead of starting the sandbox (real Terra: https://access.tryterra.co/api/v2). */
  terra?: { apiUrl: string; devId: string; apiKey: string; widgetSessionUrl?: string };
  /** Sandbox options (port, retry schedule, chaos…) when the sandbox runs. */
  sandbox?: SandboxOptions;
  /** Where the sandbox delivers webhooks (TERRA_WEBHOOK_URL); default this API's `/webhooks/terra`. */
  webhookTarget?: string;
  /** This API's public base URL for the callback URLs given to Terra (PUBLIC_API_URL); default its own. */
  publicApiUrl?: string;
  /** Extra configuration for the handlers (e.g. TERRA_WIDGET_MODE, TERRA_TIMEOUT_MS). */
  env?: Record<string, string>;
  /** Where every event the app would receive is also POSTed as EventBridge's envelope (EVENT_TARGET_URL). */
  eventTargetUrl?: string;
  /** Sees every event as it is published (the tests hold each to its JSON Schema); must not throw. */
  onEvent?: (envelope: EventEnvelope) => void;
  onProgress?: (message: string) => void;
  /** Aborting stops start-up at the next step and undoes what already started. */
  signal?: AbortSignal;
}

export interface LocalStack {
  apiUrl: string;
  webhookUrl: string;
  /** Where the sandbox delivers (the webhook URL unless TERRA_WEBHOOK_URL points elsewhere). */
  webhookTarget: string;
  signingSecret: string;
  dataDir: string;
  archiveDir: string;
  dynamoEndpoint: string;
  tables: { connectionsTable: string; inboxTable: string };
  /** The configuration the handlers were built from: this stack's own, never `process.env`. */
  env: Env;
  /** The local outbox publisher: the feed of events the app receives. */
  pipeline: LocalPipeline;
  /** Deletions continued in-process (SQS and a worker in AWS). */
  deletions: LocalDeletionQueue;
  /** The sandbox, when the stack plays Terra itself. */
  sandbox?: Sandbox;
  terraApiUrl: string;
  /** Settles if a part the stack started (DynamoDB Local) dies under it; never when it is stopped. */
  died: Promise<Error>;
  stop(): Promise<void>;
}

function devJwtSecret(dataDir: string, persist: boolean): string {
  const file = join(dataDir, 'dev-jwt-secret');
  if (persist && existsSync(file)) return readFileSync(file, 'utf8').trim();
  const secret = randomBytes(32).toString('hex');
  if (persist) writeFileSync(file, secret, { mode: 0o600 });
  return secret;
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const dataDir = resolve(options.dataDir ?? '.local');
  if (options.fresh) rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  const signingSecret = options.signingSecret ?? LOCAL_DEFAULTS.signingSecret;
  const tables = options.tables ?? {
    connectionsTable: LOCAL_DEFAULTS.connectionsTable,
    inboxTable: LOCAL_DEFAULTS.inboxTable,
  };
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const step of stops.reverse()) await step().catch(() => undefined);
  };

  const checkAborted = () => {
    if (options.signal?.aborted) throw new Error('start-up was interrupted');
  };

  // An engine the caller brought (`dynamoEndpoint`) is the caller's to watch.
  let died = new Promise<Error>(() => undefined);
  try {
    checkAborted();
    let dynamoEndpoint = options.dynamoEndpoint;
    if (!dynamoEndpoint) {
      options.onProgress?.('Starting DynamoDB Local (Java)…');
      const dynamo: DynamoLocal = await startDynamoLocal(
        options.inMemory ? {} : { dbPath: join(dataDir, 'dynamodb') },
      );
      stops.push(() => dynamo.stop());
      dynamoEndpoint = dynamo.endpoint;
      died = dynamo.died;
      checkAborted();
    }
    const admin = localClient(dynamoEndpoint);
    stops.push(async () => admin.destroy());
    await ensureTables(admin, tables);

    // Listen first: with port 0 the API's own URL (for callbacks and the sandbox) is known only now.
    const routes: LocalRoute[] = [];
    const auth = createDevAuth(devJwtSecret(dataDir, !options.inMemory));
    const demo = await createDemo();
    // Until every handler is built the API answers 503, never a false "no such route".
    let ready = false;
    let pipeline: LocalPipeline | undefined;
    let archive: Archive | undefined;
    const dev = devRoutes({ auth, pipeline: () => pipeline, archive: () => archive });
    const server = createLocalServer({
      routes,
      auth,
      ready: () => ready,
      extra: async (request, response, url, body) =>
        demo.handle(request, response, url) || (await dev(request, response, url, body)),
    });
    await new Promise<void>((done, fail) => {
      server.once('error', fail);
      server.listen(options.port ?? LOCAL_DEFAULTS.port, '127.0.0.1', () => done());
    });
    stops.push(
      () =>
        new Promise<void>((done) => {
          server.close(() => done());
          server.closeAllConnections();
        }),
    );
    const apiUrl = `http://localhost:${(server.address() as AddressInfo).port}`;
    const webhookUrl = `${apiUrl}/webhooks/terra`;
    const webhookTarget = options.webhookTarget ?? webhookUrl;

    checkAborted();

    let sandbox: Sandbox | undefined;
    let terra = options.terra;
    if (!terra) {
      options.onProgress?.('Starting the Terra sandbox…');
      sandbox = await startSandbox({
        port: LOCAL_DEFAULTS.sandboxPort,
        devId: LOCAL_DEFAULTS.devId,
        apiKey: LOCAL_DEFAULTS.apiKey,
        signingSecret,
        webhookUrl: webhookTarget,
        ...options.sandbox,
      });
      const running = sandbox;
      stops.push(() => running.stop());
      terra = {
        apiUrl: sandbox.apiUrl,
        widgetSessionUrl: `${sandbox.url}/api/widget/session`,
        devId: options.sandbox?.devId ?? LOCAL_DEFAULTS.devId,
        apiKey: options.sandbox?.apiKey ?? LOCAL_DEFAULTS.apiKey,
      };
    }
    demo.configure({ sandbox_url: sandbox?.url ?? null, terra_api_url: terra.apiUrl });

    // The handlers get this stack's configuration, exactly the settings Lambda reads from its environment.
    const result = (outcome: string) => `${apiUrl}/result?outcome=${outcome}`;
    const archiveDir = join(dataDir, 'archive');
    const env: Env = Object.freeze({
      CONNECTIONS_TABLE: tables.connectionsTable,
      INBOX_TABLE: tables.inboxTable,
      DYNAMODB_ENDPOINT: dynamoEndpoint,
      ARCHIVE_DIR: archiveDir,
      TERRA_SIGNING_SECRET: signingSecret,
      TERRA_API_URL: terra.apiUrl,
      TERRA_DEV_ID: terra.devId,
      TERRA_API_KEY: terra.apiKey,
      ...(terra.widgetSessionUrl ? { TERRA_WIDGET_SESSION_URL: terra.widgetSessionUrl } : {}),
      PUBLIC_API_URL: options.publicApiUrl ?? apiUrl,
      // The sandbox serves large payloads from localhost; in AWS only S3's hosts are allowed.
      PAYLOAD_ALLOW_LOCALHOST: 'true',
      ...options.env,
      // The demo's own target (`web`), next to any a developer's frontend brings (REDIRECT_TARGETS).
      REDIRECT_TARGETS: JSON.stringify({
        web: { success: result('success'), failure: result('failure') },
        ...redirectTargetsOf(options.env?.REDIRECT_TARGETS),
      }),
    });
    // Where this stack runs, for `npm run reconcile` and `npm run ops` in another terminal. No credential goes in here.
    const runtimeFile = join(dataDir, RUNTIME_FILE);
    writeFileSync(
      runtimeFile,
      JSON.stringify({
        CONNECTIONS_TABLE: tables.connectionsTable,
        INBOX_TABLE: tables.inboxTable,
        DYNAMODB_ENDPOINT: dynamoEndpoint,
        ARCHIVE_DIR: archiveDir,
        TERRA_API_URL: terra.apiUrl,
        apiUrl,
        ...(sandbox ? { sandboxUrl: sandbox.url } : {}),
        ...(options.eventTargetUrl ? { eventTargetUrl: options.eventTargetUrl } : {}),
        sandbox: sandbox !== undefined,
        settings: Object.fromEntries(
          RUNTIME_SETTINGS.flatMap((name) => (env[name] === undefined ? [] : [[name, env[name]]])),
        ),
      }),
    );
    stops.push(async () => rmSync(runtimeFile, { force: true }));
    // AWS continues an unfinished deletion through SQS and a worker; here a timer runs the same worker.
    const deletions = localDeletionQueue(env);
    stops.push(() => deletions.stop());
    for (const spec of ROUTES) {
      const build = HTTP_HANDLERS[spec.entry];
      routes.push({ ...spec, handler: build(env, { queue: deletions }) as LambdaHandler });
    }
    archive = new DirectoryArchive(archiveDir);
    // The outbox publisher AWS runs on the tables' streams, here on DynamoDB Local's.
    const started = await startLocalPipeline({
      admin,
      env,
      dataDir,
      eventTargetUrl: options.eventTargetUrl,
      onEvent: options.onEvent,
    });
    pipeline = started;
    stops.push(() => started.stop());
    ready = true;
    checkAborted();

    return {
      apiUrl,
      webhookUrl,
      webhookTarget,
      signingSecret,
      dataDir,
      archiveDir,
      dynamoEndpoint,
      tables,
      env,
      pipeline: started,
      deletions,
      terraApiUrl: terra.apiUrl,
      ...(sandbox ? { sandbox } : {}),
      died,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
