import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import * as z from 'zod';
import { isAllowedRedirect } from '#shared/config';
import { REDIRECT_TARGET } from '#shared/ids';
import type { TerraConnectProps } from './terra-connect-stack.ts';

const url = z.string().refine(isAllowedRedirect, 'must be an https URL or an app deep link');
const context = z.strictObject({
  jwtIssuer: z.url({ protocol: /^https$/ }).optional(),
  jwtAudience: z.array(z.string().min(1)).min(1).optional(),
  corsOrigins: z.array(z.url({ protocol: /^https?$/ })).default([]),
  redirectTargets: z.record(
    z.string().regex(REDIRECT_TARGET),
    z.strictObject({ success: url, failure: url }),
  ),
  defaultRedirectTarget: z.string().optional(),
  terraApiUrl: z.url({ protocol: /^https$/ }).optional(),
  terraWidgetMode: z.enum(['widget-api', 'legacy']).optional(),
  throttleRateLimit: z.number().int().positive().default(100),
  throttleBurstLimit: z.number().int().positive().default(200),
  // Sized in README "Capacity": Terra's bursts (a cohort's backfill, everyone's daily summary at once).
  webhookThrottleRateLimit: z.number().int().positive().default(500),
  webhookThrottleBurstLimit: z.number().int().positive().default(1000),
  webhookReservedConcurrency: z.number().int().min(1).default(50),
  logRetentionDays: z.number().int().positive().default(30),
  reconcileSchedule: z
    .string()
    .regex(/^(rate|cron)\(.+\)$/, "must be an EventBridge expression such as 'rate(6 hours)'")
    .default('rate(6 hours)'),
  exampleSubscription: z.boolean().default(true),
  archiveInfrequentAccessDays: z.number().int().min(30).default(30),
  archiveGlacierDays: z.number().int().min(60).default(180),
  // Health data: kept a finite time by default (0 keeps it for ever).
  archiveExpirationDays: z.number().int().min(0).default(365),
  quarantineExpirationDays: z.number().int().min(1).default(30),
  inboxTtlDays: z.number().int().min(1).max(3650).default(30),
  tombstoneDays: z.number().int().min(2).max(3650).default(30),
});

/** `cdk.json` → stack props, validated: a typo fails the synth with the field's name. */
export function stackPropsFromContext(raw: unknown): TerraConnectProps {
  const parsed = context.safeParse(raw ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `terraConnect.${issue.path.join('.')}: ${issue.message}`,
    );
    throw new Error(`cdk.json context is invalid: ${problems.join('; ')}`);
  }
  const c = parsed.data;
  if ((c.jwtIssuer === undefined) !== (c.jwtAudience === undefined)) {
    throw new Error(
      'cdk.json context: set both terraConnect.jwtIssuer and terraConnect.jwtAudience, or neither (Cognito).',
    );
  }
  // A delivery record must not outlive its payload: a deletion finds records through the archive.
  if (c.archiveExpirationDays > 0 && c.archiveExpirationDays < c.inboxTtlDays) {
    throw new Error(
      'cdk.json context: terraConnect.archiveExpirationDays must be 0 (keep) or at least terraConnect.inboxTtlDays, so every delivery record can be found for a deletion.',
    );
  }
  const retention = Object.values(RetentionDays).find((value) => value === c.logRetentionDays);
  if (retention === undefined)
    throw new Error('cdk.json context: terraConnect.logRetentionDays is not a CloudWatch retention.');
  return {
    ...(c.jwtIssuer && c.jwtAudience ? { jwt: { issuer: c.jwtIssuer, audience: c.jwtAudience } } : {}),
    corsOrigins: c.corsOrigins,
    redirectTargets: c.redirectTargets,
    ...(c.defaultRedirectTarget ? { defaultRedirectTarget: c.defaultRedirectTarget } : {}),
    ...(c.terraApiUrl ? { terraApiUrl: c.terraApiUrl } : {}),
    ...(c.terraWidgetMode ? { terraWidgetMode: c.terraWidgetMode } : {}),
    throttle: { rateLimit: c.throttleRateLimit, burstLimit: c.throttleBurstLimit },
    webhookThrottle: { rateLimit: c.webhookThrottleRateLimit, burstLimit: c.webhookThrottleBurstLimit },
    webhookReservedConcurrency: c.webhookReservedConcurrency,
    reconcileSchedule: c.reconcileSchedule,
    exampleSubscription: c.exampleSubscription,
    logRetention: retention as RetentionDays,
    inboxTtlDays: c.inboxTtlDays,
    tombstoneDays: c.tombstoneDays,
    archive: {
      infrequentAccessDays: c.archiveInfrequentAccessDays,
      glacierDays: c.archiveGlacierDays,
      expirationDays: c.archiveExpirationDays,
      quarantineExpirationDays: c.quarantineExpirationDays,
    },
  };
}
