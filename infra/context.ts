import { resolveSettings } from './terra-connect-props.ts';
import type { TerraConnectStackProps } from './terra-connect-stack.ts';

/**
 * `cdk.json`'s `terraConnect` keys (flat, as README "Deploy to AWS" lists them) and the construct's
 * setting each one is. Their defaults and checks are the construct's (infra/terra-connect-props.ts).
 */
const KEYS = {
  jwtIssuer: ['identityProvider', 'issuer'],
  jwtAudience: ['identityProvider', 'audience'],
  corsOrigins: ['corsOrigins'],
  redirectTargets: ['redirectTargets'],
  defaultRedirectTarget: ['defaultRedirectTarget'],
  terraApiUrl: ['terraApiUrl'],
  terraWidgetMode: ['terraWidgetMode'],
  throttleRateLimit: ['throttle', 'rateLimit'],
  throttleBurstLimit: ['throttle', 'burstLimit'],
  webhookThrottleRateLimit: ['webhookThrottle', 'rateLimit'],
  webhookThrottleBurstLimit: ['webhookThrottle', 'burstLimit'],
  webhookReservedConcurrency: ['webhookReservedConcurrency'],
  logRetentionDays: ['logRetention'],
  reconcileSchedule: ['reconcileSchedule'],
  exampleSubscription: ['exampleSubscription'],
  inboxTtlDays: ['inboxTtlDays'],
  tombstoneDays: ['tombstoneDays'],
  archiveInfrequentAccessDays: ['archive', 'infrequentAccessDays'],
  archiveGlacierDays: ['archive', 'glacierDays'],
  archiveExpirationDays: ['archive', 'expirationDays'],
  quarantineExpirationDays: ['archive', 'quarantineExpirationDays'],
} as const satisfies Record<string, readonly string[]>;

/** A setting's path in the props, named as `cdk.json` spells it (`throttle.rateLimit` → `throttleRateLimit`). */
function contextName(path: readonly PropertyKey[]): string {
  const match = Object.entries(KEYS)
    .filter(([, at]) => at.every((part, i) => path[i] === part))
    .sort(([, a], [, b]) => b.length - a.length)[0];
  const [key, at] = match ?? ['', []];
  return ['terraConnect', ...(key ? [key] : []), ...path.slice(at.length).map(String)].join('.');
}

/** `cdk.json` → stack props, validated: a typo fails the synth with the field's name. */
export function stackPropsFromContext(raw: unknown): TerraConnectStackProps {
  const context = (raw ?? {}) as Record<string, unknown>;
  if (typeof context !== 'object' || Array.isArray(context))
    throw new Error('cdk.json context is invalid: terraConnect must be an object.');
  const unknown = Object.keys(context).filter((key) => !(key in KEYS));
  if (unknown.length > 0) {
    throw new Error(
      `cdk.json context is invalid: ${unknown.map((key) => `terraConnect.${key}: not a setting`).join('; ')}`,
    );
  }
  if ((context.jwtIssuer === undefined) !== (context.jwtAudience === undefined)) {
    throw new Error(
      'cdk.json context: set both terraConnect.jwtIssuer and terraConnect.jwtAudience, or neither (Cognito).',
    );
  }
  const props: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(context)) {
    if (value === undefined) continue;
    const [first, second] = KEYS[key as keyof typeof KEYS];
    if (second === undefined) props[first] = value;
    else props[first] = { ...(props[first] as object | undefined), [second]: value };
  }
  // Checked here, so the error names the cdk.json key; the construct fills in the same defaults again.
  return { terraConnect: resolveSettings(props, 'cdk.json context is invalid', contextName) };
}
