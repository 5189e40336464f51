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
};

function readSection<T extends z.ZodType>(schema: T, env: Env): Readonly<z.output<T>> {
  const result = schema.safeParse(env);
  if (result.success) return Object.freeze(result.data);
  const problems = result.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? '');
    const example = `for example ${examples[name] ?? `${name}=...`}`;
    if (issue.code === 'custom') return `${name}: ${issue.message}; ${example}`;
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

const webhookSchema = z
  .object({
    TERRA_SIGNING_SECRET: nonEmpty,
    TERRA_SIGNING_SECRET_PREVIOUS: nonEmpty.optional(),
    WEBHOOK_TOLERANCE_SECONDS: seconds(300, 3600),
    INBOX_LEASE_SECONDS: seconds(15, 900),
    INBOX_TTL_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  })
  .transform((env) => ({
    // Two secrets let a team rotate: add the new one, let Terra switch, then drop the old.
    signingSecrets: [env.TERRA_SIGNING_SECRET, env.TERRA_SIGNING_SECRET_PREVIOUS].filter(
      (secret): secret is string => secret !== undefined,
    ),
    toleranceSeconds: env.WEBHOOK_TOLERANCE_SECONDS,
    leaseSeconds: env.INBOX_LEASE_SECONDS,
    inboxTtlDays: env.INBOX_TTL_DAYS,
  }));

const storeSchema = z
  .object({
    CONNECTIONS_TABLE: nonEmpty,
    INBOX_TABLE: nonEmpty,
    DYNAMODB_ENDPOINT: z.url().optional(),
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
        message: 'set exactly one of ARCHIVE_BUCKET (S3) or ARCHIVE_DIR (local directory)',
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

export const webhookConfig = section(webhookSchema);
export const storeConfig = section(storeSchema);
export const archiveConfig = section(archiveSchema);
export const identityConfig = section(identitySchema);

export type WebhookConfig = ReturnType<typeof webhookConfig>;
export type StoreConfig = ReturnType<typeof storeConfig>;
export type ArchiveConfig = ReturnType<typeof archiveConfig>;
