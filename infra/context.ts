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
  logRetentionDays: z.number().int().positive().default(30),
  reconcileSchedule: z
    .string()
    .regex(/^(rate|cron)\(.+\)$/, "must be an EventBridge expression such as 'rate(6 hours)'")
    .default('rate(6 hours)'),
  exampleSubscription: z.boolean().default(true),
  archiveInfrequentAccessDays: z.number().int().min(30).default(30),
  archiveGlacierDays: z.number().int().min(60).default(90),
  archiveExpirationDays: z.number().int().min(0).default(0),
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
    reconcileSchedule: c.reconcileSchedule,
    exampleSubscription: c.exampleSubscription,
    logRetention: retention as RetentionDays,
    archive: {
      infrequentAccessDays: c.archiveInfrequentAccessDays,
      glacierDays: c.archiveGlacierDays,
      expirationDays: c.archiveExpirationDays,
    },
  };
}
