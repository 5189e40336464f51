import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import * as z from 'zod';
import { ROUTES } from '#shared/http/routes';
import { createDevAuth } from './dev-auth.ts';
import { type DynamoLocal, localClient, startDynamoLocal } from './dynamodb.ts';
import { createLocalServer, type LambdaHandler, type LocalRoute } from './server.ts';
import { ensureTables } from './tables.ts';

/**
 * The whole backend on one machine: DynamoDB Local, the archive in a directory, and the same Lambda
 * handlers behind the local HTTP adapter. Used by `npm start` and by the HTTP tests.
 */
export const LOCAL_DEFAULTS = {
  port: 3000,
  signingSecret: 'local-signing-secret',
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
  onProgress?: (message: string) => void;
}

export interface LocalStack {
  apiUrl: string;
  webhookUrl: string;
  signingSecret: string;
  dataDir: string;
  dynamoEndpoint: string;
  stop(): Promise<void>;
}

const tokenRequest = z.strictObject({ sub: z.string().trim().min(1).max(256) });

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

  let dynamo: DynamoLocal | undefined;
  if (!options.dynamoEndpoint) {
    options.onProgress?.('Starting DynamoDB Local (Java)…');
    dynamo = await startDynamoLocal(options.inMemory ? {} : { dbPath: join(dataDir, 'dynamodb') });
  }
  const dynamoEndpoint = options.dynamoEndpoint ?? dynamo?.endpoint ?? '';
  try {
    const admin = localClient(dynamoEndpoint);
    await ensureTables(admin, tables);
    admin.destroy();

    // The handlers read their configuration from the environment once, exactly as in Lambda.
    Object.assign(process.env, {
      CONNECTIONS_TABLE: tables.connectionsTable,
      INBOX_TABLE: tables.inboxTable,
      DYNAMODB_ENDPOINT: dynamoEndpoint,
      ARCHIVE_DIR: join(dataDir, 'archive'),
      TERRA_SIGNING_SECRET: signingSecret,
    });
    delete process.env.ARCHIVE_BUCKET;

    const routes: LocalRoute[] = [];
    for (const spec of ROUTES) {
      const module = (await import(`../functions/${spec.entry}.ts`)) as { handler: LambdaHandler };
      routes.push({ ...spec, handler: module.handler });
    }
    const auth = createDevAuth(devJwtSecret(dataDir, !options.inMemory));

    const server = createLocalServer({
      routes,
      auth,
      extra: async (request, response, url, body) => {
        if (request.method === 'POST' && url.pathname === '/dev/token') {
          let parsed: z.ZodSafeParseResult<z.infer<typeof tokenRequest>>;
          try {
            parsed = tokenRequest.safeParse(JSON.parse(body.toString('utf8') || '{}'));
          } catch {
            parsed = tokenRequest.safeParse(undefined);
          }
          response.setHeader('content-type', 'application/json');
          if (!parsed.success) {
            response.writeHead(400).end(
              JSON.stringify({
                error: { code: 'invalid_body', message: 'Send {"sub": "<your user id>"}.' },
              }),
            );
          } else {
            response.writeHead(200).end(JSON.stringify({ token: await auth.mint({ sub: parsed.data.sub }) }));
          }
          return true;
        }
        return false;
      },
    });
    await new Promise<void>((done, fail) => {
      server.once('error', fail);
      server.listen(options.port ?? LOCAL_DEFAULTS.port, '127.0.0.1', () => done());
    });
    const { port } = server.address() as AddressInfo;
    const apiUrl = `http://localhost:${port}`;
    return {
      apiUrl,
      webhookUrl: `${apiUrl}/webhooks/terra`,
      signingSecret,
      dataDir,
      dynamoEndpoint,
      async stop() {
        await new Promise<void>((done) => {
          server.close(() => done());
          server.closeAllConnections();
        });
        await dynamo?.stop();
      },
    };
  } catch (error) {
    await dynamo?.stop();
    throw error;
  }
}
