import * as z from 'zod/mini';
import { REDIRECT_TARGET, S3_HOSTS } from './ids.ts';
import { DATA_ENDPOINT_TYPES, isDataEndpointType } from './terra/data-types.ts';

/**
 * Every setting the backend reads, validated and frozen. Each function builds only the sections it
 * reads, from an environment it is handed (the Lambda entry hands `process.env`, once; the local stack
 * hands its own), so a list function does not fail for want of a webhook secret and two local stacks in
 * one process never share a setting. A missing or malformed value fails at start-up with the variable's
 * name and an example. Defaults live in `DEFAULTS`, nowhere else.
 */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export type Env = Readonly<Record<string, string | undefined>>;

export const DEFAULTS = {
  WEBHOOK_TOLERANCE_SECONDS: 300,
  INBOX_LEASE_SECONDS: 15,
  INBOX_TTL_DAYS: 30,
  IDENTITY_CLAIM: 'sub',
  TERRA_SECRET_MAX_AGE_SECONDS: 300,
  TERRA_API_URL: 'https://access.tryterra.co/api/v2',
  TERRA_WIDGET_SESSION_URL: 'https://access.tryterra.co/api/widget/session',
  TERRA_WIDGET_MODE: 'widget-api',
  TERRA_TIMEOUT_MS: 2_500,
  TERRA_MAX_ATTEMPTS: 3,
  TERRA_DEADLINE_MS: 6_000,
  PROVIDERS_CACHE_SECONDS: 300,
  PAYLOAD_HOSTS: S3_HOSTS.join(','),
  PAYLOAD_ALLOW_LOCALHOST: 'false',
  PAYLOAD_MAX_BYTES: 12_000_000,
  PAYLOAD_TIMEOUT_MS: 3_000,
  TOMBSTONE_DAYS: 30,
  DELETION_GRACE_SECONDS: 15,
  DELETION_BUDGET_MS: 6_000,
  BACKFILL_DAYS: 30,
  BACKFILL_TYPES: 'activity,daily,sleep,body',
} as const;

const examples: Record<string, string> = {
  TERRA_SIGNING_SECRET: '<the signing secret from Terra dashboard → Destinations>',
  TERRA_SIGNING_SECRET_PREVIOUS: '<the secret being rotated out>',
  CONNECTIONS_TABLE: 'terra-connect-connections',
  INBOX_TABLE: 'terra-connect-inbox',
  ARCHIVE_BUCKET: 'my-terra-archive',
  ARCHIVE_DIR: '.local/archive',
  DYNAMODB_ENDPOINT: 'http://127.0.0.1:8000',
  TERRA_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:terra-connect/terra',
  TERRA_DEV_ID: '<your dev-id from the Terra dashboard>',
  TERRA_API_KEY: '<your API key from the Terra dashboard>',
  PUBLIC_API_URL: 'https://abc123.execute-api.eu-west-1.amazonaws.com',
  REDIRECT_TARGETS:
    '{"web":{"success":"https://app.example.com/connected","failure":"https://app.example.com/connect-failed"}}',
  DEFAULT_REDIRECT_TARGET: 'web',
  PAYLOAD_HOSTS: '*.s3.*.amazonaws.com,s3.*.amazonaws.com',
  EVENT_BUS_NAME: 'terra-connect-events',
  DELETION_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/terra-connect-deletions',
  DEAD_LETTER_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/terra-connect-dead-letters',
};
const exampleOf = (name: string) =>
  `${name}=${examples[name] ?? String(DEFAULTS[name as keyof typeof DEFAULTS] ?? '...')}`;

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** One section: the variables it reads (for the README check) and how they become settings. */
interface Section<T> {
  variables: readonly string[];
  read(env: Env): Readonly<T>;
}

type Shape = Record<string, z.ZodMiniType>;
type Parsed<S extends Shape> = z.output<z.ZodMiniObject<S>>;

function section<S extends Shape, T>(
  shape: S,
  build: (env: Parsed<S>) => T,
  check?: (env: Parsed<S>, ctx: { addIssue(issue: { path: string[]; message: string }): void }) => void,
): Section<T> {
  const object = z.object(shape);
  const schema = check
    ? object.check(
        z.superRefine((env, ctx) =>
          check(env, { addIssue: (issue) => ctx.addIssue({ ...issue, code: 'custom', input: env }) }),
        ),
      )
    : object;
  return {
    variables: Object.keys(shape),
    read(env) {
      // An empty variable is an unset one: `FOO=` in a .env file must not count as a value.
      const present = Object.fromEntries(
        Object.keys(shape)
          .map((name) => [name, env[name]] as const)
          .filter(([, value]) => value?.trim()),
      );
      const result = schema.safeParse(present);
      // Deep: a caller must not be able to push a signing secret onto the shared list.
      if (result.success) return deepFreeze(build(result.data));
      const problems = result.error.issues.map((issue) => {
        const name = String(issue.path[0] ?? '');
        const example = `for example ${exampleOf(name)}`;
        if (issue.code === 'custom') return `${name} ${issue.message}; ${example}`;
        const unset = env[name] === undefined || env[name]?.trim() === '';
        return `${name} ${unset ? 'is not set' : `is invalid (${issue.message})`}; ${example}`;
      });
      throw new ConfigError(`Configuration error: ${problems.join('. ')}.`);
    },
  };
}

// zod/mini throughout runtime code: the same checks at a fraction of zod's import cost (README, "Cold start").
const nonEmpty = z.string().check(z.trim(), z.minLength(1));
const httpUrl = z.url({ protocol: /^https?$/, hostname: /./ });
const int = (fallback: number, min: number, max: number) =>
  z._default(z.pipe(z.coerce.number(), z.int().check(z.gte(min), z.lte(max))), fallback);
const flag = (fallback: 'true' | 'false') =>
  z.pipe(
    z._default(z.enum(['true', 'false'], "must be 'true' or 'false'"), fallback),
    z.transform((value) => value === 'true'),
  );

/**
 * Terra's credentials come from one Secrets Manager secret in AWS (TERRA_SECRET_ARN, read at run time and
 * cached) or from plain variables locally. With neither, the function does not start.
 */
const secretShape = {
  TERRA_SECRET_ARN: z.optional(
    z.string().check(z.regex(/^arn:aws[a-z-]*:secretsmanager:/, 'must be a Secrets Manager ARN')),
  ),
  TERRA_SECRET_MAX_AGE_SECONDS: int(DEFAULTS.TERRA_SECRET_MAX_AGE_SECONDS, 0, 3600),
  // Read through AWS's Parameters and Secrets Lambda Extension (the stack adds its layer): set by
  // Lambda, the session token authenticates calls to it.
  AWS_SESSION_TOKEN: z.optional(z.string()),
  PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: int(2773, 1, 65_535),
};
const requiredWithoutSecret =
  (...names: string[]) =>
  (env: Record<string, unknown>, ctx: { addIssue(issue: { path: string[]; message: string }): void }) => {
    if (env.TERRA_SECRET_ARN !== undefined) return;
    for (const name of names) {
      if (env[name] === undefined)
        ctx.addIssue({ path: [name], message: 'is not set (nor TERRA_SECRET_ARN)' });
    }
  };
export interface SecretSource {
  arn: string;
  maxAgeSeconds: number;
  port: number;
  token: string;
}
const secretSource = (env: {
  TERRA_SECRET_ARN?: string | undefined;
  TERRA_SECRET_MAX_AGE_SECONDS: number;
  AWS_SESSION_TOKEN?: string | undefined;
  PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: number;
}) =>
  env.TERRA_SECRET_ARN === undefined
    ? undefined
    : ({
        arn: env.TERRA_SECRET_ARN,
        maxAgeSeconds: env.TERRA_SECRET_MAX_AGE_SECONDS,
        port: env.PARAMETERS_SECRETS_EXTENSION_HTTP_PORT,
        token: env.AWS_SESSION_TOKEN ?? '',
      } satisfies SecretSource);

const optional = <T extends z.ZodMiniType>(schema: T) => z.optional(schema);

export const webhookSection = section(
  {
    ...secretShape,
    TERRA_SIGNING_SECRET: optional(nonEmpty),
    TERRA_SIGNING_SECRET_PREVIOUS: optional(nonEmpty),
    WEBHOOK_TOLERANCE_SECONDS: int(DEFAULTS.WEBHOOK_TOLERANCE_SECONDS, 1, 3600),
  },
  (env) => ({
    // Two secrets let a team rotate: add the new one, let Terra switch, then drop the old.
    signingSecrets: [env.TERRA_SIGNING_SECRET, env.TERRA_SIGNING_SECRET_PREVIOUS].filter(
      (secret): secret is string => secret !== undefined,
    ),
    secret: secretSource(env),
    toleranceSeconds: env.WEBHOOK_TOLERANCE_SECONDS,
  }),
  requiredWithoutSecret('TERRA_SIGNING_SECRET'),
);

/** The delivery ledger: how long a copy holds its lease, how long a delivery record is kept. */
export const inboxSection = section(
  {
    INBOX_LEASE_SECONDS: int(DEFAULTS.INBOX_LEASE_SECONDS, 1, 900),
    INBOX_TTL_DAYS: int(DEFAULTS.INBOX_TTL_DAYS, 1, 3650),
  },
  (env) => ({ leaseSeconds: env.INBOX_LEASE_SECONDS, ttlDays: env.INBOX_TTL_DAYS }),
);

export const storeSection = section(
  { CONNECTIONS_TABLE: nonEmpty, INBOX_TABLE: nonEmpty, DYNAMODB_ENDPOINT: optional(httpUrl) },
  (env) => ({
    connectionsTable: env.CONNECTIONS_TABLE,
    inboxTable: env.INBOX_TABLE,
    dynamoEndpoint: env.DYNAMODB_ENDPOINT,
  }),
);

export const archiveSection = section(
  {
    ARCHIVE_BUCKET: optional(nonEmpty),
    ARCHIVE_DIR: optional(nonEmpty),
    // The SDK's own variable for an S3-compatible endpoint (an emulator), honoured by every S3 path here.
    AWS_ENDPOINT_URL_S3: optional(httpUrl),
  },
  (env) =>
    env.ARCHIVE_BUCKET !== undefined
      ? ({
          kind: 's3',
          bucket: env.ARCHIVE_BUCKET,
          ...(env.AWS_ENDPOINT_URL_S3 ? { endpoint: env.AWS_ENDPOINT_URL_S3 } : {}),
        } as const)
      : ({ kind: 'dir', dir: env.ARCHIVE_DIR ?? '' } as const),
  (env, ctx) => {
    if ((env.ARCHIVE_BUCKET === undefined) === (env.ARCHIVE_DIR === undefined)) {
      ctx.addIssue({
        path: ['ARCHIVE_BUCKET'],
        message: 'or ARCHIVE_DIR must be set, exactly one of them (S3 bucket, or a local directory)',
      });
    }
  },
);

export const payloadSection = section(
  {
    PAYLOAD_HOSTS: z._default(z.string(), DEFAULTS.PAYLOAD_HOSTS),
    PAYLOAD_ALLOW_LOCALHOST: flag(DEFAULTS.PAYLOAD_ALLOW_LOCALHOST),
    PAYLOAD_MAX_BYTES: int(DEFAULTS.PAYLOAD_MAX_BYTES, 1, 100_000_000),
    PAYLOAD_TIMEOUT_MS: int(DEFAULTS.PAYLOAD_TIMEOUT_MS, 100, 30_000),
  },
  (env) => ({
    allowedHosts: env.PAYLOAD_HOSTS.split(',')
      .map((host) => host.trim())
      .filter(Boolean),
    allowLocalhost: env.PAYLOAD_ALLOW_LOCALHOST,
    maxBytes: env.PAYLOAD_MAX_BYTES,
    timeoutMs: env.PAYLOAD_TIMEOUT_MS,
  }),
);

export const identitySection = section(
  { IDENTITY_CLAIM: z._default(nonEmpty, DEFAULTS.IDENTITY_CLAIM) },
  (env) => ({
    claim: env.IDENTITY_CLAIM,
  }),
);

export const terraSection = section(
  {
    TERRA_API_URL: z._default(httpUrl, DEFAULTS.TERRA_API_URL),
    TERRA_WIDGET_SESSION_URL: z._default(httpUrl, DEFAULTS.TERRA_WIDGET_SESSION_URL),
    TERRA_WIDGET_MODE: z._default(z.enum(['widget-api', 'legacy']), DEFAULTS.TERRA_WIDGET_MODE),
    ...secretShape,
    TERRA_DEV_ID: optional(nonEmpty),
    TERRA_API_KEY: optional(nonEmpty),
    // Per attempt, and for all attempts together: both well under the function timeout.
    TERRA_TIMEOUT_MS: int(DEFAULTS.TERRA_TIMEOUT_MS, 100, 30_000),
    TERRA_MAX_ATTEMPTS: int(DEFAULTS.TERRA_MAX_ATTEMPTS, 1, 5),
    TERRA_DEADLINE_MS: int(DEFAULTS.TERRA_DEADLINE_MS, 100, 60_000),
  },
  (env) => ({
    apiUrl: env.TERRA_API_URL.replace(/\/+$/, ''),
    widgetSessionUrl: env.TERRA_WIDGET_SESSION_URL,
    widgetMode: env.TERRA_WIDGET_MODE,
    devId: env.TERRA_DEV_ID ?? '',
    apiKey: env.TERRA_API_KEY ?? '',
    secret: secretSource(env),
    timeoutMs: env.TERRA_TIMEOUT_MS,
    maxAttempts: env.TERRA_MAX_ATTEMPTS,
    deadlineMs: env.TERRA_DEADLINE_MS,
  }),
  requiredWithoutSecret('TERRA_DEV_ID', 'TERRA_API_KEY'),
);

/** Where the browser may be sent after connecting: names mapped to https URLs or app deep links. */
const redirectUrl = z
  .string()
  .check(
    z.refine(
      isAllowedRedirect,
      'must be an https URL, http on localhost, or an app deep link (myapp://path)',
    ),
  );
export const redirectTargetsSchema = z.record(
  z.string().check(z.regex(REDIRECT_TARGET)),
  z.strictObject({ success: redirectUrl, failure: redirectUrl }),
);

export function isAllowedRedirect(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.username || url.password) return false;
  if (url.protocol === 'https:') return url.hostname !== '';
  if (url.protocol === 'http:') return ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  // App deep links: a custom scheme, never one a browser would execute or render inline.
  const scheme = url.protocol.slice(0, -1);
  return (
    /^[a-z][a-z0-9+.-]{1,31}$/.test(scheme) &&
    !['javascript', 'data', 'vbscript', 'file', 'blob', 'about', 'ftp', 'ws', 'wss'].includes(scheme)
  );
}

const jsonText = z.pipe(
  z.string(),
  z.transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.issues.push({ code: 'custom', message: 'is not valid JSON', input: text });
      return z.NEVER;
    }
  }),
);

export const connectSection = section(
  {
    PUBLIC_API_URL: optional(httpUrl),
    REDIRECT_TARGETS: z.pipe(
      jsonText,
      redirectTargetsSchema.check(z.refine((targets) => Object.keys(targets).length > 0, 'names no target')),
    ),
    DEFAULT_REDIRECT_TARGET: optional(z.string()),
    PROVIDERS_CACHE_SECONDS: int(DEFAULTS.PROVIDERS_CACHE_SECONDS, 0, 86_400),
  },
  (env) => ({
    publicApiUrl: env.PUBLIC_API_URL?.replace(/\/+$/, ''),
    redirectTargets: env.REDIRECT_TARGETS,
    defaultRedirectTarget: env.DEFAULT_REDIRECT_TARGET ?? Object.keys(env.REDIRECT_TARGETS)[0] ?? '',
    providersCacheSeconds: env.PROVIDERS_CACHE_SECONDS,
  }),
  (env, ctx) => {
    if (env.DEFAULT_REDIRECT_TARGET !== undefined && !(env.DEFAULT_REDIRECT_TARGET in env.REDIRECT_TARGETS)) {
      ctx.addIssue({ path: ['DEFAULT_REDIRECT_TARGET'], message: 'names no target in REDIRECT_TARGETS' });
    }
  },
);

/** Providers-only functions need the cache setting and nothing about redirects. */
export const providersSection = section(
  { PROVIDERS_CACHE_SECONDS: int(DEFAULTS.PROVIDERS_CACHE_SECONDS, 0, 86_400) },
  (env) => ({ providersCacheSeconds: env.PROVIDERS_CACHE_SECONDS }),
);

export const backfillSection = section(
  {
    BACKFILL_DAYS: int(DEFAULTS.BACKFILL_DAYS, 0, 3650),
    BACKFILL_TYPES: z
      .pipe(
        z._default(z.string(), DEFAULTS.BACKFILL_TYPES),
        z.transform((text) => [
          ...new Set(
            text
              .split(',')
              .map((type) => type.trim())
              .filter(Boolean),
          ),
        ]),
      )
      .check(
        z.refine(
          (types) => types.every(isDataEndpointType),
          `names a type Terra has no data endpoint for (one of ${DATA_ENDPOINT_TYPES.join(', ')})`,
        ),
      ),
  },
  (env) => ({ days: env.BACKFILL_DAYS, types: env.BACKFILL_TYPES }),
);

/** Where the publisher sends the app's events, and where refused ones wait for a redrive. */
export const eventsSection = section({ EVENT_BUS_NAME: nonEmpty, DEAD_LETTER_QUEUE_URL: httpUrl }, (env) => ({
  busName: env.EVENT_BUS_NAME,
  deadLetterQueueUrl: env.DEAD_LETTER_QUEUE_URL,
}));

/**
 * Deleting a user: how long tombstones (and the deletion's own record) are kept, longer than Terra's
 * retry window; the grace before the last sweep, longer than the webhook's timeout; how much of a
 * request `DELETE /me` spends before answering 202; and, in AWS, the queue that continues it.
 */
export const deletionSection = section(
  {
    TOMBSTONE_DAYS: int(DEFAULTS.TOMBSTONE_DAYS, 2, 3650),
    DELETION_GRACE_SECONDS: int(DEFAULTS.DELETION_GRACE_SECONDS, 0, 900),
    DELETION_BUDGET_MS: int(DEFAULTS.DELETION_BUDGET_MS, 0, 25_000),
    DELETION_QUEUE_URL: optional(httpUrl),
  },
  (env) => ({
    tombstoneDays: env.TOMBSTONE_DAYS,
    graceMs: env.DELETION_GRACE_SECONDS * 1000,
    budgetMs: env.DELETION_BUDGET_MS,
    queueUrl: env.DELETION_QUEUE_URL,
  }),
);

export const SECTIONS = {
  webhook: webhookSection,
  inbox: inboxSection,
  store: storeSection,
  archive: archiveSection,
  payload: payloadSection,
  identity: identitySection,
  terra: terraSection,
  connect: connectSection,
  providers: providersSection,
  backfill: backfillSection,
  events: eventsSection,
  deletion: deletionSection,
} as const;

export type WebhookConfig = ReturnType<typeof webhookSection.read>;
export type StoreConfig = ReturnType<typeof storeSection.read>;
export type ArchiveConfig = ReturnType<typeof archiveSection.read>;
export type PayloadConfig = ReturnType<typeof payloadSection.read>;
export type TerraConfig = ReturnType<typeof terraSection.read>;
export type ConnectConfig = ReturnType<typeof connectSection.read>;
