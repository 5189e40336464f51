import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as z from 'zod';
import { LOCAL_DEFAULTS, RUNTIME_FILE, RUNTIME_SETTINGS } from '#local/stack';
import type { Env } from '#shared/config';
import { readTerraSecret, stackOutputs } from './aws.ts';
import { EXIT, NotFoundError, OpsError } from './errors.ts';

/**
 * Which stack the CLI works on. By default the local one `npm start` runs from this environment (its
 * data directory, TERRA_CONNECT_DATA_DIR, holds `runtime.json` while it runs; PORT, when set, must be
 * its port). With `--stack <name>`, a deployed stack through its CloudFormation outputs, with the
 * caller's AWS credentials. Either way the result is the environment the backend's own wiring reads.
 */
export interface Target {
  kind: 'local' | 'deployed';
  /** The data directory, or the stack's name. */
  name: string;
  /** The settings the shared wiring reads (shared/config.ts); no credential among them. */
  env: Env;
  /** The same with Terra's credentials added (read from the stack's secret when deployed): in memory only. */
  terraEnv(): Promise<Env>;
  /** Local only: the data directory and where the stack forwards the app's events. */
  dataDir?: string;
  eventTargetUrl?: string;
  /** What a command needs and this target lacks: a message naming it, or undefined. */
  lacks(need: Need): string | undefined;
}

export type Need = 'store' | 'terra' | 'events';

/** The deployed stack's outputs the CLI reads, and the setting each becomes. */
export const STACK_OUTPUTS = {
  ConnectionsTableName: 'CONNECTIONS_TABLE',
  InboxTableName: 'INBOX_TABLE',
  ArchiveBucketName: 'ARCHIVE_BUCKET',
  /** Read by the CLI itself (never handed to the shared wiring, which reads it through Lambda's extension). */
  TerraSecretArn: 'TERRA_SECRET_ARN',
  EventBusName: 'EVENT_BUS_NAME',
  DeadLetterQueueUrl: 'DEAD_LETTER_QUEUE_URL',
  /** Optional: with it a deletion the CLI runs is also continued by the worker if the CLI stops. */
  DeletionQueueUrl: 'DELETION_QUEUE_URL',
  /** Optional: the stack's Terra API URL when it is not Terra's default. */
  TerraApiUrl: 'TERRA_API_URL',
} as const;

const NEEDS: Record<Need, ReadonlyArray<keyof typeof STACK_OUTPUTS>> = {
  store: ['ConnectionsTableName', 'InboxTableName', 'ArchiveBucketName'],
  terra: ['TerraSecretArn'],
  events: ['EventBusName', 'DeadLetterQueueUrl'],
};

/** Settings an operator may tune for the CLI as for the functions (none of them a secret). */
const PASSED_THROUGH = RUNTIME_SETTINGS;

const runtimeSchema = z.object({
  CONNECTIONS_TABLE: z.string().min(1),
  INBOX_TABLE: z.string().min(1),
  DYNAMODB_ENDPOINT: z.string().min(1),
  ARCHIVE_DIR: z.string().min(1),
  TERRA_API_URL: z.string().min(1),
  apiUrl: z.string().min(1),
  sandboxUrl: z.string().optional(),
  eventTargetUrl: z.string().optional(),
  sandbox: z.boolean().default(false),
  /** The running stack's own values of the settings above; the operator's environment wins. */
  settings: z.record(z.string(), z.string()).default({}),
});

function passedThrough(processEnv: NodeJS.ProcessEnv): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const name of PASSED_THROUGH) {
    const value = processEnv[name]?.trim();
    if (value) settings[name] = value;
  }
  return settings;
}

async function listening(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(3_000) });
    await response.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

export async function localTarget(processEnv: NodeJS.ProcessEnv): Promise<Target> {
  const dataDir = resolve(processEnv.TERRA_CONNECT_DATA_DIR || '.local');
  const file = join(dataDir, RUNTIME_FILE);
  const hint =
    'Start it with `npm start` (or point TERRA_CONNECT_DATA_DIR at its data directory), or use --stack <name>.';
  if (!existsSync(file)) throw new OpsError(EXIT.failed, `No running local stack found (${file}). ${hint}`);
  let runtime: z.infer<typeof runtimeSchema>;
  try {
    runtime = runtimeSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch {
    throw new OpsError(EXIT.failed, `${file} is not a runtime file this CLI understands. ${hint}`);
  }
  const port = processEnv.PORT?.trim();
  if (port && new URL(runtime.apiUrl).port !== port) {
    throw new OpsError(
      EXIT.failed,
      `The local stack in ${dataDir} listens on ${runtime.apiUrl}, not on PORT=${port}: point TERRA_CONNECT_DATA_DIR at the data directory of the stack on port ${port}, or unset PORT.`,
    );
  }
  // runtime.json outlives a stack that was killed: only a stack that answers is running.
  if (!(await listening(runtime.apiUrl))) {
    throw new OpsError(
      EXIT.failed,
      `The local stack in ${dataDir} does not answer at ${runtime.apiUrl}. ${hint}`,
    );
  }
  const devId = processEnv.TERRA_DEV_ID?.trim() || (runtime.sandbox ? LOCAL_DEFAULTS.devId : undefined);
  const apiKey = processEnv.TERRA_API_KEY?.trim() || (runtime.sandbox ? LOCAL_DEFAULTS.apiKey : undefined);
  const eventTargetUrl = processEnv.EVENT_TARGET_URL?.trim() || runtime.eventTargetUrl;
  const env: Env = Object.freeze({
    ...runtime.settings,
    ...passedThrough(processEnv),
    CONNECTIONS_TABLE: runtime.CONNECTIONS_TABLE,
    INBOX_TABLE: runtime.INBOX_TABLE,
    DYNAMODB_ENDPOINT: runtime.DYNAMODB_ENDPOINT,
    ARCHIVE_DIR: runtime.ARCHIVE_DIR,
    TERRA_API_URL: runtime.TERRA_API_URL,
    // As the local stack configures its handlers: the sandbox serves large payloads from localhost.
    PAYLOAD_ALLOW_LOCALHOST: 'true',
  });
  return {
    kind: 'local',
    name: dataDir,
    env,
    terraEnv: async () =>
      Object.freeze({ ...env, ...(devId && apiKey ? { TERRA_DEV_ID: devId, TERRA_API_KEY: apiKey } : {}) }),
    dataDir,
    ...(eventTargetUrl ? { eventTargetUrl } : {}),
    lacks(need) {
      if (need === 'terra' && !(devId && apiKey)) {
        return 'This local stack talks to real Terra: set TERRA_DEV_ID and TERRA_API_KEY (your Terra credentials).';
      }
      return undefined;
    },
  };
}

/** The SDK's own words when no region is set anywhere it looks (environment, profile, instance). */
const NO_REGION = /^Region is missing/;

export async function deployedTarget(name: string, processEnv: NodeJS.ProcessEnv): Promise<Target> {
  const outputs = await stackOutputs(name).catch((error: unknown) => {
    if (!(error instanceof Error && NO_REGION.test(error.message))) throw error;
    throw new OpsError(
      EXIT.failed,
      `No AWS region for the stack ${name}: pass --region <region> (such as eu-west-1) or set AWS_REGION to the region it is deployed in.`,
    );
  });
  if (outputs === undefined)
    throw new NotFoundError(
      `No CloudFormation stack named ${name} (in ${processEnv.AWS_REGION ?? 'the default region'}).`,
    );
  const settings: Record<string, string> = {};
  for (const [output, setting] of Object.entries(STACK_OUTPUTS)) {
    const value = outputs[output];
    if (value) settings[setting] = value;
  }
  if (!settings.TERRA_API_URL && processEnv.TERRA_API_URL) settings.TERRA_API_URL = processEnv.TERRA_API_URL;
  const { TERRA_SECRET_ARN: secretArn, ...withoutSecret } = settings;
  const env: Env = Object.freeze({ ...passedThrough(processEnv), ...withoutSecret });
  let terra: Promise<Env> | undefined;
  return {
    kind: 'deployed',
    name,
    env,
    terraEnv() {
      if (!secretArn)
        return Promise.reject(new OpsError(EXIT.failed, `The stack ${name} has no output TerraSecretArn.`));
      terra ??= readTerraSecret(secretArn).then(({ devId, apiKey }) =>
        Object.freeze({ ...env, TERRA_DEV_ID: devId, TERRA_API_KEY: apiKey }),
      );
      return terra;
    },
    lacks(need) {
      const missing = NEEDS[need].filter((output) => !outputs[output]);
      if (missing.length === 0) return undefined;
      return `The stack ${name} has no output ${missing.join(', ')}: deploy the current version of the stack.`;
    },
  };
}

export function resolveTarget(stack: string | undefined, processEnv: NodeJS.ProcessEnv): Promise<Target> {
  return stack === undefined ? localTarget(processEnv) : deployedTarget(stack, processEnv);
}

/** Fails with the message when the target lacks what the command needs. */
export function requireOf(target: Target, ...needs: Need[]): void {
  for (const need of needs) {
    const problem = target.lacks(need);
    if (problem) throw new OpsError(EXIT.failed, problem);
  }
}
