import * as z from 'zod';

/**
 * Every setting the backend reads, validated once and frozen. Each function reads only the sections it
 * needs, so a list function does not fail for want of a webhook secret; a missing or malformed value
 * fails at start-up with the variable's name and an example.
 */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

const nonEmpty = z.string().trim().min(1);
const httpUrl = z.url({ protocol: /^https?$/, hostname: /./ });
const seconds = (fallback: number, max: number) => z.coerce.number().int().min(1).max(max).default(fallback);

const examples: Record<string, string> = {
  TERRA_SIGNING_SECRET: 'TERRA_SIGNING_SECRET=<the signing secret from Terra dashboard → Destinations>',
  TERRA_SIGNING_SECRET_PREVIOUS: 'TERRA_SIGNING_SECRET_PREVIOUS=<the secret being rotated out>',
  WEBHOOK_TOLERANCE_SECONDS: 'WEBHOOK_TOLERANCE_SECONDS=300',
  CONNECTIONS_TABLE: 'CONNECTIONS_TABLE=terra-connect-connections',
  INBOX_TABLE: 'INBOX_TABLE=terra-connect-inbox',
  ARCHIVE_BUCKET: 'ARCHIVE_BUCKET=my-terra-archive',
  ARCHIVE_DIR: 'ARCHIVE_DIR=.local/archive',
  DYNAMODB_ENDPOINT: 'DYNAMODB_ENDPOINT=http://127.0.0.1:8000',
  INBOX_LEASE_SECONDS: 'INBOX_LEASE_SECONDS=15',
  INBOX_TTL_DAYS: 'INBOX_TTL_DAYS=30',
  IDENTITY_CLAIM: 'IDENTITY_CLAIM=sub',
  TERRA_SECRET_ARN:
    'TERRA_SECRET_ARN=arn:aws:secretsmanager:eu-west-1:123456789012:secret:terra-connect/terra',
  TERRA_SECRET_MAX_AGE_SECONDS: 'TERRA_SECRET_MAX_AGE_SECONDS=300',
  TERRA_API_URL: 'TERRA_API_URL=https://access.tryterra.co/api/v2',
  TERRA_WIDGET_SESSION_URL: 'TERRA_WIDGET_SESSION_URL=https://access.tryterra.co/api/widget/session',
  TERRA_WIDGET_MODE: 'TERRA_WIDGET_MODE=widget-api (or legacy)',
  TERRA_DEV_ID: 'TERRA_DEV_ID=<your dev-id from the Terra dashboard>',
  TERRA_API_KEY: 'TERRA_API_KEY=<your API key from the Terra dashboard>',
  TERRA_TIMEOUT_MS: 'TERRA_TIMEOUT_MS=2500',
  TERRA_MAX_ATTEMPTS: 'TERRA_MAX_ATTEMPTS=3',
  TERRA_DEADLINE_MS: 'TERRA_DEADLINE_MS=6000',
  PROVIDERS_CACHE_SECONDS: 'PROVIDERS_CACHE_SECONDS=300',
  PUBLIC_API_URL: 'PUBLIC_API_URL=https://abc123.execute-api.eu-west-1.amazonaws.com',
  REDIRECT_TARGETS:
    'REDIRECT_TARGETS={"web":{"success":"https://app.example.com/connected","failure":"https://app.example.com/connect-failed"}}',
  DEFAULT_REDIRECT_TARGET: 'DEFAULT_REDIRECT_TARGET=web',
};

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

function readSection<T extends z.ZodType>(schema: T, env: Env): Readonly<z.output<T>> {
  // An empty variable is an unset one: `FOO=` in a .env file must not count as a value.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value?.trim()));
  const result = schema.safeParse(present);
  // Deep: a caller must not be able to push a signing secret onto the shared list.
  if (result.success) return deepFreeze(result.data);
  const problems = result.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? '');
    const example = `for example ${examples[name] ?? `${name}=...`}`;
    if (issue.code === 'custom') return `${name} ${issue.message}; ${example}`;
    const unset = env[name] === undefined || env[name]?.trim() === '';
    return `${name} ${unset ? 'is not set' : `is invalid (${issue.message})`}; ${example}`;
  });
  throw new ConfigError(`Configuration error: ${problems.join('. ')}.`);
}

/** Reads a section once; later calls return the same frozen object. Tests pass their own env. */
function section<T extends z.ZodType>(schema: T) {
  let cached: Readonly<z.output<T>> | undefined;
  return (env: Env = process.env): Readonly<z.output<T>> => {
    if (env !== process.env) return readSection(schema, env);
    cached ??= readSection(schema, env);
    return cached;
  };
}

/**
 * Terra's credentials come from one Secrets Manager secret in AWS (TERRA_SECRET_ARN, read at run time and
 * cached) or from plain variables locally. With neither, the function does not start.
 */
const secretShape = {
  TERRA_SECRET_ARN: z
    .string()
    .regex(/^arn:aws[a-z-]*:secretsmanager:/, 'must be a Secrets Manager ARN')
    .optional(),
  TERRA_SECRET_MAX_AGE_SECONDS: z.coerce.number().int().min(0).max(3600).default(300),
};
const requiredWithoutSecret =
  (...names: string[]) =>
  (env: Record<string, unknown>, ctx: z.RefinementCtx) => {
    if (env.TERRA_SECRET_ARN !== undefined) return;
    for (const name of names) {
      if (env[name] === undefined)
        ctx.addIssue({ code: 'custom', path: [name], message: 'is not set (nor TERRA_SECRET_ARN)' });
    }
  };
const secretSource = (env: {
  TERRA_SECRET_ARN?: string | undefined;
  TERRA_SECRET_MAX_AGE_SECONDS: number;
}) =>
  env.TERRA_SECRET_ARN === undefined
    ? undefined
    : { arn: env.TERRA_SECRET_ARN, maxAgeSeconds: env.TERRA_SECRET_MAX_AGE_SECONDS };

const webhookSchema = z
  .object({
    ...secretShape,
    TERRA_SIGNING_SECRET: nonEmpty.optional(),
    TERRA_SIGNING_SECRET_PREVIOUS: nonEmpty.optional(),
    WEBHOOK_TOLERANCE_SECONDS: seconds(300, 3600),
    INBOX_LEASE_SECONDS: seconds(15, 900),
    INBOX_TTL_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  })
  .superRefine(requiredWithoutSecret('TERRA_SIGNING_SECRET'))
  .transform((env) => ({
    // Two secrets let a team rotate: add the new one, let Terra switch, then drop the old.
    signingSecrets: [env.TERRA_SIGNING_SECRET, env.TERRA_SIGNING_SECRET_PREVIOUS].filter(
      (secret): secret is string => secret !== undefined,
    ),
    secret: secretSource(env),
    toleranceSeconds: env.WEBHOOK_TOLERANCE_SECONDS,
    leaseSeconds: env.INBOX_LEASE_SECONDS,
    inboxTtlDays: env.INBOX_TTL_DAYS,
  }));

const storeSchema = z
  .object({
    CONNECTIONS_TABLE: nonEmpty,
    INBOX_TABLE: nonEmpty,
    DYNAMODB_ENDPOINT: httpUrl.optional(),
  })
  .transform((env) => ({
    connectionsTable: env.CONNECTIONS_TABLE,
    inboxTable: env.INBOX_TABLE,
    dynamoEndpoint: env.DYNAMODB_ENDPOINT,
  }));

const archiveSchema = z
  .object({ ARCHIVE_BUCKET: nonEmpty.optional(), ARCHIVE_DIR: nonEmpty.optional() })
  .superRefine((env, ctx) => {
    if ((env.ARCHIVE_BUCKET === undefined) === (env.ARCHIVE_DIR === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['ARCHIVE_BUCKET'],
        message: 'or ARCHIVE_DIR must be set, exactly one of them (S3 bucket, or a local directory)',
      });
    }
  })
  .transform((env) =>
    env.ARCHIVE_BUCKET !== undefined
      ? ({ kind: 's3', bucket: env.ARCHIVE_BUCKET } as const)
      : ({ kind: 'dir', dir: env.ARCHIVE_DIR ?? '' } as const),
  );

const identitySchema = z
  .object({ IDENTITY_CLAIM: nonEmpty.default('sub') })
  .transform((env) => ({ claim: env.IDENTITY_CLAIM }));

const terraSchema = z
  .object({
    TERRA_API_URL: httpUrl.default('https://access.tryterra.co/api/v2'),
    TERRA_WIDGET_SESSION_URL: httpUrl.default('https://access.tryterra.co/api/widget/session'),
    TERRA_WIDGET_MODE: z.enum(['widget-api', 'legacy']).default('widget-api'),
    ...secretShape,
    TERRA_DEV_ID: nonEmpty.optional(),
    TERRA_API_KEY: nonEmpty.optional(),
    // Per attempt, and for all attempts together: both well under the function timeout.
    TERRA_TIMEOUT_MS: z.coerce.number().int().min(100).max(30_000).default(2_500),
    TERRA_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(5).default(3),
    TERRA_DEADLINE_MS: z.coerce.number().int().min(100).max(60_000).default(6_000),
  })
  .superRefine(requiredWithoutSecret('TERRA_DEV_ID', 'TERRA_API_KEY'))
  .transform((env) => ({
    apiUrl: env.TERRA_API_URL.replace(/\/+$/, ''),
    widgetSessionUrl: env.TERRA_WIDGET_SESSION_URL,
    widgetMode: env.TERRA_WIDGET_MODE,
    devId: env.TERRA_DEV_ID ?? '',
    apiKey: env.TERRA_API_KEY ?? '',
    secret: secretSource(env),
    timeoutMs: env.TERRA_TIMEOUT_MS,
    maxAttempts: env.TERRA_MAX_ATTEMPTS,
    deadlineMs: env.TERRA_DEADLINE_MS,
  }));

/** Where the browser may be sent after connecting: names mapped to https URLs or app deep links. */
const redirectUrl = z.string().refine(isAllowedRedirect, {
  message: 'must be an https URL, http on localhost, or an app deep link (myapp://path)',
});
const redirectTargets = z.record(
  z.string().regex(/^[a-z0-9_-]{1,32}$/),
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

const connectSchema = z
  .object({
    PUBLIC_API_URL: httpUrl.optional(),
    REDIRECT_TARGETS: z
      .string()
      .transform((text, ctx) => {
        try {
          return JSON.parse(text) as unknown;
        } catch {
          ctx.addIssue({ code: 'custom', message: 'is not valid JSON' });
          return z.NEVER;
        }
      })
      .pipe(redirectTargets.refine((targets) => Object.keys(targets).length > 0, 'names no target')),
    DEFAULT_REDIRECT_TARGET: z.string().optional(),
    PROVIDERS_CACHE_SECONDS: z.coerce.number().int().min(0).max(86_400).default(300),
  })
  .superRefine((env, ctx) => {
    if (env.DEFAULT_REDIRECT_TARGET !== undefined && !(env.DEFAULT_REDIRECT_TARGET in env.REDIRECT_TARGETS)) {
      ctx.addIssue({
        code: 'custom',
        path: ['DEFAULT_REDIRECT_TARGET'],
        message: 'names no target in REDIRECT_TARGETS',
      });
    }
  })
  .transform((env) => ({
    publicApiUrl: env.PUBLIC_API_URL?.replace(/\/+$/, ''),
    redirectTargets: env.REDIRECT_TARGETS,
    defaultRedirectTarget: env.DEFAULT_REDIRECT_TARGET ?? Object.keys(env.REDIRECT_TARGETS)[0] ?? '',
    providersCacheSeconds: env.PROVIDERS_CACHE_SECONDS,
  }));

export const webhookConfig = section(webhookSchema);
export const terraConfig = section(terraSchema);
export const connectConfig = section(connectSchema);
export const storeConfig = section(storeSchema);
export const archiveConfig = section(archiveSchema);
export const identityConfig = section(identitySchema);

export type WebhookConfig = ReturnType<typeof webhookConfig>;
export type StoreConfig = ReturnType<typeof storeConfig>;
export type ArchiveConfig = ReturnType<typeof archiveConfig>;
export type TerraConfig = ReturnType<typeof terraConfig>;
export type ConnectConfig = ReturnType<typeof connectConfig>;
