import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import * as z from 'zod';
import { DEFAULTS, isAllowedRedirect } from '#shared/config';
import { REDIRECT_TARGET } from '#shared/ids';

/** Where the browser lands after a connection attempt: `https`, `http` on localhost, or an app deep link. */
export interface RedirectTarget {
  readonly success: string;
  readonly failure: string;
}

/** The identity provider whose JWTs the API accepts (Auth0, Cognito, Clerk, …); its `sub` is Terra's `reference_id`. */
export interface IdentityProvider {
  /** The token's `iss`, an https URL (its `/.well-known/openid-configuration` must be reachable). */
  readonly issuer: string;
  /** Accepted `aud` values (or Cognito app client ids). */
  readonly audience: string[];
}

/** Requests per second, steady and in a burst, before API Gateway answers `429`. */
export interface Throttle {
  readonly rateLimit?: number;
  readonly burstLimit?: number;
}

/** How long the archive keeps what (README, "Data map"). */
export interface ArchiveRetention {
  /** Days before payloads move to Infrequent Access (at least 30). */
  readonly infrequentAccessDays?: number;
  /** Days before they move to Glacier Instant Retrieval (at least 60). */
  readonly glacierDays?: number;
  /** Days after which payloads are deleted; 0 keeps them. At least `inboxTtlDays` otherwise. */
  readonly expirationDays?: number;
  /** Days after which quarantined (stale) deliveries are deleted. */
  readonly quarantineExpirationDays?: number;
}

/**
 * The settings of `TerraConnect` that are plain data. Each optional one has its default in the schema
 * below and nowhere else: `cdk.json` context (infra/context.ts) is mapped onto these names.
 */
export interface TerraConnectSettingsProps {
  /** Where the browser goes after connecting, per target name (`web`, `ios`, …). */
  readonly redirectTargets: Record<string, RedirectTarget>;
  /** The target for a request that names none or an unknown one; default: the first. */
  readonly defaultRedirectTarget?: string;
  /** Your identity provider; without one, a starter Cognito user pool is created. */
  readonly identityProvider?: IdentityProvider;
  /** Browser origins allowed to call the API; none by default (never `*`). */
  readonly corsOrigins?: string[];
  readonly terraApiUrl?: string;
  readonly terraWidgetMode?: 'widget-api' | 'legacy';
  /** The app routes' throttle: 100 per second, bursts of 200. */
  readonly throttle?: Throttle;
  /** The webhook route's own throttle (README, "Capacity"): 500 per second, bursts of 1000. */
  readonly webhookThrottle?: Throttle;
  /** The webhook function's concurrency budget (50): the rest of the account's stays for the app routes. */
  readonly webhookReservedConcurrency?: number;
  /** EventBridge schedule of the reconcile: `rate(6 hours)`. */
  readonly reconcileSchedule?: string;
  /** Every log group's retention: a month. */
  readonly logRetention?: RetentionDays;
  /** One example subscription of the app's events (a rule into an SQS queue); on unless turned off. */
  readonly exampleSubscription?: boolean;
  /** Days delivery records (and their deduplication) are kept: 30. */
  readonly inboxTtlDays?: number;
  /** Days a deleted Terra user's tombstone is kept, longer than Terra's ~24 h of retries: 30. */
  readonly tombstoneDays?: number;
  readonly archive?: ArchiveRetention;
}

const url = z.string().refine(isAllowedRedirect, 'must be an https URL or an app deep link');
const days = (min: number, fallback: number) => z.number().int().min(min).default(fallback);
const throttle = (rate: number, burst: number) =>
  z
    .strictObject({
      rateLimit: z.number().int().positive().default(rate),
      burstLimit: z.number().int().positive().default(burst),
    })
    .prefault({});

const settings = z.strictObject({
  redirectTargets: z.record(
    z.string().regex(REDIRECT_TARGET),
    z.strictObject({ success: url, failure: url }),
  ),
  defaultRedirectTarget: z.string().optional(),
  identityProvider: z
    .strictObject({
      issuer: z.url({ protocol: /^https$/ }),
      audience: z.array(z.string().min(1)).min(1),
    })
    .optional(),
  corsOrigins: z.array(z.url({ protocol: /^https?$/ })).default([]),
  terraApiUrl: z.url({ protocol: /^https$/ }).optional(),
  terraWidgetMode: z.enum(['widget-api', 'legacy']).optional(),
  throttle: throttle(100, 200),
  // Sized in README "Capacity": Terra's bursts (a cohort's backfill, everyone's daily summary at once).
  webhookThrottle: throttle(500, 1000),
  webhookReservedConcurrency: z.number().int().min(1).default(50),
  reconcileSchedule: z
    .string()
    .regex(/^(rate|cron)\(.+\)$/, "must be an EventBridge expression such as 'rate(6 hours)'")
    .default('rate(6 hours)'),
  logRetention: z
    .enum(RetentionDays, {
      error: 'must be a CloudWatch Logs retention in days (1, 3, 5, 7, 14, 30, 60, 90, …)',
    })
    .default(RetentionDays.ONE_MONTH),
  exampleSubscription: z.boolean().default(true),
  inboxTtlDays: z.number().int().min(1).max(3650).default(DEFAULTS.INBOX_TTL_DAYS),
  tombstoneDays: z.number().int().min(2).max(3650).default(DEFAULTS.TOMBSTONE_DAYS),
  archive: z
    .strictObject({
      infrequentAccessDays: days(30, 30),
      glacierDays: days(60, 180),
      // Health data: kept a finite time by default (0 keeps it for ever).
      expirationDays: days(0, 365),
      quarantineExpirationDays: days(1, 30),
    })
    .prefault({}),
});

/** The settings with every default filled in. */
export type TerraConnectSettings = z.output<typeof settings>;

// The documented props and the schema must name the same settings with the same types: a setting added
// to one and not the other fails the type check here.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const PROPS_MATCH_SCHEMA: Same<TerraConnectSettingsProps, z.input<typeof settings>> = true;

/** How a setting is named in an error: its path in the props, or (infra/context.ts) its `cdk.json` key. */
export type SettingName = (path: readonly PropertyKey[]) => string;

/**
 * Validates the settings and fills in the defaults; an error names every problem, each by its setting,
 * after `invalid`, which says what was given (the construct's props, `cdk.json`'s context).
 */
export function resolveSettings(
  props: unknown,
  invalid = 'TerraConnect props are invalid',
  name: SettingName = (path) => path.map(String).join('.'),
): TerraConnectSettings {
  void PROPS_MATCH_SCHEMA;
  const parsed = settings.safeParse(props);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) =>
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((key) => `${name([...issue.path, key])}: not a setting`).join('; ')
        : `${name(issue.path)}: ${issue.message}`,
    );
    throw new Error(`${invalid}: ${problems.join('; ')}`);
  }
  const s = parsed.data;
  // A delivery record must not outlive its payload: a deletion finds records through the archive.
  if (s.archive.expirationDays > 0 && s.archive.expirationDays < s.inboxTtlDays) {
    throw new Error(
      `${invalid}: ${name(['archive', 'expirationDays'])} must be 0 (keep) or at least ${name(['inboxTtlDays'])}, so every delivery record can be found for a deletion.`,
    );
  }
  return s;
}
