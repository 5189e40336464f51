import * as z from 'zod/mini';

/**
 * Proof: the sections of `shared/config.ts` the webhook reads (webhook, store, archive), ported to
 * `zod/mini` and built only when first read. `zod/mini` is tree-shakable (its builders are marked
 * side-effect free) and cheap to construct; the classic `zod` API costs the webhook its whole load plus
 * every schema `config.ts` builds at import for the other functions. Same exports as the original for
 * these sections; `npm run bench` bundles the webhook with it to measure the gain.
 */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

function readSection<T extends z.ZodMiniType>(schema: T, env: Env): Readonly<z.output<T>> {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value?.trim()));
  const result = z.safeParse(schema, present);
  if (result.success) return Object.freeze(result.data);
  const problems = result.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? '');
    const unset = env[name] === undefined || env[name]?.trim() === '';
    return `${name} ${unset ? 'is not set' : `is invalid (${issue.message})`}`;
  });
  throw new ConfigError(`Configuration error: ${problems.join('. ')}.`);
}

function section<T extends z.ZodMiniType>(build: () => T) {
  let cached: Readonly<z.output<T>> | undefined;
  return (env: Env = process.env): Readonly<z.output<T>> => {
    if (env !== process.env) return readSection(build(), env);
    cached ??= readSection(build(), env);
    return cached;
  };
}

const nonEmpty = () => z.string().check(z.trim(), z.minLength(1));
const int = (min: number, max: number) => z.coerce.number().check(z.int(), z.minimum(min), z.maximum(max));

export const webhookConfig = section(() =>
  z.pipe(
    z
      .object({
        TERRA_SECRET_ARN: z.optional(z.string().check(z.regex(/^arn:aws[a-z-]*:secretsmanager:/))),
        TERRA_SECRET_MAX_AGE_SECONDS: z._default(int(0, 3600), 300),
        TERRA_SIGNING_SECRET: z.optional(nonEmpty()),
        TERRA_SIGNING_SECRET_PREVIOUS: z.optional(nonEmpty()),
        WEBHOOK_TOLERANCE_SECONDS: z._default(int(1, 3600), 300),
        INBOX_LEASE_SECONDS: z._default(int(1, 900), 15),
        INBOX_TTL_DAYS: z._default(int(1, 3650), 30),
      })
      .check(
        z.refine((env) => env.TERRA_SECRET_ARN !== undefined || env.TERRA_SIGNING_SECRET !== undefined, {
          path: ['TERRA_SIGNING_SECRET'],
          message: 'is not set (nor TERRA_SECRET_ARN)',
        }),
      ),
    z.transform((env) => ({
      signingSecrets: [env.TERRA_SIGNING_SECRET, env.TERRA_SIGNING_SECRET_PREVIOUS].filter(
        (secret): secret is string => secret !== undefined,
      ),
      secret:
        env.TERRA_SECRET_ARN === undefined
          ? undefined
          : { arn: env.TERRA_SECRET_ARN, maxAgeSeconds: env.TERRA_SECRET_MAX_AGE_SECONDS },
      toleranceSeconds: env.WEBHOOK_TOLERANCE_SECONDS,
      leaseSeconds: env.INBOX_LEASE_SECONDS,
      inboxTtlDays: env.INBOX_TTL_DAYS,
    })),
  ),
);

export const storeConfig = section(() =>
  z.pipe(
    z.object({
      CONNECTIONS_TABLE: nonEmpty(),
      INBOX_TABLE: nonEmpty(),
      DYNAMODB_ENDPOINT: z.optional(z.url({ protocol: /^https?$/, hostname: /./ })),
    }),
    z.transform((env) => ({
      connectionsTable: env.CONNECTIONS_TABLE,
      inboxTable: env.INBOX_TABLE,
      dynamoEndpoint: env.DYNAMODB_ENDPOINT,
    })),
  ),
);

export const archiveConfig = section(() =>
  z.pipe(
    z.object({ ARCHIVE_BUCKET: z.optional(nonEmpty()), ARCHIVE_DIR: z.optional(nonEmpty()) }).check(
      z.refine((env) => (env.ARCHIVE_BUCKET === undefined) !== (env.ARCHIVE_DIR === undefined), {
        path: ['ARCHIVE_BUCKET'],
        message: 'or ARCHIVE_DIR must be set, exactly one of them',
      }),
    ),
    z.transform((env) =>
      env.ARCHIVE_BUCKET !== undefined
        ? ({ kind: 's3', bucket: env.ARCHIVE_BUCKET } as const)
        : ({ kind: 'dir', dir: env.ARCHIVE_DIR ?? '' } as const),
    ),
  ),
);

export type WebhookConfig = ReturnType<typeof webhookConfig>;
export type StoreConfig = ReturnType<typeof storeConfig>;
export type ArchiveConfig = ReturnType<typeof archiveConfig>;
