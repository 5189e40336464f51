import * as z from 'zod';

/**
 * What a sandbox can be told at start (`SandboxOptions`) and what can change while it runs
 * (`SandboxSettings`, through `settings()` or `POST /sandbox/settings`). Both paths are validated by the
 * same schema, so a test and a curl command get the same errors.
 */
export interface SandboxOptions {
  /** Default 3001; 0 picks a free port. */
  port?: number;
  devId?: string;
  apiKey?: string;
  signingSecret?: string;
  /** Where webhooks go; may also be set later with `settings()`. */
  webhookUrl?: string;
  /** Delays between delivery attempts; its length is the number of retries. */
  retryScheduleMs?: number[];
  /** An attempt not answered within this is a failure and retried. */
  deliveryTimeoutMs?: number;
  chaos?: { duplicateRate?: number; reorderWindowMs?: number };
  /** Cancel sends the legacy `auth` + `status: error` instead of the 2026 `auth_cancelled`. */
  legacyAuthFailure?: boolean;
  /** `gone` (default): the legacy widget endpoint answers 410, as for accounts created after 2026-09-03. */
  legacyWidget?: 'gone' | 'ok';
  /** `/userInfo?reference_id=` as a bare array (Terra's spec, default) or `{users}` (Terra's example code). */
  userInfoListShape?: 'array' | 'users';
  /** RFC 9457 problem+json (default, 2026) or the older `{status: 'error', message}`. */
  errorShape?: 'problem' | 'message';
  /** A data request covering more days than this is a large request, delivered in chunks. Default 31. */
  largeRequestThresholdDays?: number;
  /** Days of data per chunk of a large request. Default 7. */
  largeRequestChunkDays?: number;
  /** A webhook body over this many bytes goes out as `s3_payload`; null or 0: never. Default 1_000_000. */
  s3PayloadThresholdBytes?: number | null;
  /** How long an `s3_payload` URL serves its body. Default 300. */
  s3PayloadExpiresSeconds?: number;
  /** Terra's cap on users per development environment; null: unlimited. Default 50. */
  userLimit?: number | null;
  log?: (line: string) => void;
}

export type Fault =
  | { kind: 'status'; status: number; retryAfterSeconds?: number; times?: number; paths?: string[] }
  | { kind: 'delay'; ms: number; times?: number; paths?: string[] };

export interface SandboxSettings {
  webhookUrl?: string;
  /** Mutable so a test can rotate the secret while deliveries are being retried. */
  signingSecret: string;
  retryScheduleMs: number[];
  deliveryTimeoutMs: number;
  chaos?: { duplicateRate?: number; reorderWindowMs?: number };
  legacyAuthFailure: boolean;
  legacyWidget: 'gone' | 'ok';
  userInfoListShape: 'array' | 'users';
  errorShape: 'problem' | 'message';
  /** Applies to Terra's REST endpoints before normal handling; `times` requests, then it clears itself. */
  fault?: Fault;
  largeRequestThresholdDays: number;
  largeRequestChunkDays: number;
  s3PayloadThresholdBytes: number | null;
  s3PayloadExpiresSeconds: number;
  userLimit: number | null;
}

export const DEFAULTS = {
  port: 3001,
  devId: 'local-dev-id',
  apiKey: 'local-api-key',
  signingSecret: 'local-signing-secret',
  // Terra retries failed deliveries with growing back-off over several hours.
  retryScheduleMs: [10_000, 60_000, 300_000, 1_800_000, 7_200_000, 28_800_000],
  // Terra's default webhook timeout (rules/webhooks-ack-within-timeout.md).
  deliveryTimeoutMs: 8_000,
  // Terra chunks historical requests of "more than one month" (LargeRequestProcessingEvent).
  largeRequestThresholdDays: 31,
  largeRequestChunkDays: 7,
  s3PayloadThresholdBytes: 1_000_000,
  // The `expires_in` of the s3_payload example in v2-bundled.yaml.
  s3PayloadExpiresSeconds: 300,
  // "For testing & development, there is a user limit of 50 users on each environment" (Terra's docs).
  userLimit: 50,
} as const;

const paths = z.array(z.string().startsWith('/')).max(50);
const times = z.int().min(1).max(1_000_000);

const fault = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('status'),
    status: z.int().min(400).max(599),
    retryAfterSeconds: z.int().min(0).max(86_400).optional(),
    times: times.optional(),
    paths: paths.optional(),
  }),
  z.strictObject({
    kind: z.literal('delay'),
    ms: z.int().min(0).max(120_000),
    times: times.optional(),
    paths: paths.optional(),
  }),
]);

/**
 * A patch: every field optional; `null` (or an explicit `undefined`) clears an optional one, except where
 * null means something (`s3PayloadThresholdBytes`: never; `userLimit`: unlimited).
 */
export const settingsPatch = z.strictObject({
  webhookUrl: z.url().nullish(),
  signingSecret: z.string().min(1).max(512).optional(),
  retryScheduleMs: z.array(z.int().min(0).max(86_400_000)).max(50).optional(),
  deliveryTimeoutMs: z.int().min(1).max(600_000).optional(),
  chaos: z
    .strictObject({
      duplicateRate: z.number().min(0).max(1).optional(),
      reorderWindowMs: z.int().min(0).max(600_000).optional(),
    })
    .nullish(),
  legacyAuthFailure: z.boolean().optional(),
  legacyWidget: z.enum(['gone', 'ok']).optional(),
  userInfoListShape: z.enum(['array', 'users']).optional(),
  errorShape: z.enum(['problem', 'message']).optional(),
  fault: fault.nullish(),
  largeRequestThresholdDays: z.int().min(1).max(3660).optional(),
  largeRequestChunkDays: z.int().min(1).max(3660).optional(),
  s3PayloadThresholdBytes: z.int().min(0).max(1_000_000_000).nullish(),
  // S3's own ceiling for a presigned URL is 7 days.
  s3PayloadExpiresSeconds: z.int().min(1).max(604_800).optional(),
  userLimit: z.int().min(0).max(1_000_000).nullish(),
});

const CLEARABLE = new Set(['webhookUrl', 'chaos', 'fault']);
/** Settings where `null` is a value of its own ("never", "unlimited"), kept rather than cleared. */
const NULLABLE = new Set(['s3PayloadThresholdBytes', 'userLimit']);

/** Validates `patch` (throws a ZodError naming the field) and returns the settings with it applied. */
export function applyPatch(current: SandboxSettings, patch: unknown): SandboxSettings {
  const parsed = settingsPatch.parse(patch);
  const next: Record<string, unknown> = { ...structuredClone(current) };
  for (const key of Object.keys(patch as object)) {
    const value = parsed[key as keyof typeof parsed];
    if (value === null && NULLABLE.has(key)) next[key] = null;
    else if (value === null || value === undefined) {
      if (CLEARABLE.has(key)) delete next[key];
    } else next[key] = value;
  }
  return next as unknown as SandboxSettings;
}

export function initialSettings(options: SandboxOptions): SandboxSettings {
  const base: SandboxSettings = {
    signingSecret: options.signingSecret ?? DEFAULTS.signingSecret,
    retryScheduleMs: [...DEFAULTS.retryScheduleMs],
    deliveryTimeoutMs: DEFAULTS.deliveryTimeoutMs,
    legacyAuthFailure: false,
    legacyWidget: 'gone',
    userInfoListShape: 'array',
    errorShape: 'problem',
    largeRequestThresholdDays: DEFAULTS.largeRequestThresholdDays,
    largeRequestChunkDays: DEFAULTS.largeRequestChunkDays,
    s3PayloadThresholdBytes: DEFAULTS.s3PayloadThresholdBytes,
    s3PayloadExpiresSeconds: DEFAULTS.s3PayloadExpiresSeconds,
    userLimit: DEFAULTS.userLimit,
  };
  const { port: _port, devId: _devId, apiKey: _apiKey, log: _log, ...mutable } = options;
  return applyPatch(base, mutable);
}
