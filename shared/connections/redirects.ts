import type { ConnectConfig } from '../config.ts';

/**
 * Where the browser goes after Terra: only configured targets. The request names a target; an unknown
 * name falls back to the default; nothing a request carries is ever used as a URL.
 */
export type Outcome = 'success' | 'failure';

export function redirectTargetName(config: ConnectConfig, name: string | undefined): string {
  return name !== undefined && Object.hasOwn(config.redirectTargets, name)
    ? name
    : config.defaultRedirectTarget;
}

export function redirectUrl(
  config: ConnectConfig,
  name: string | undefined,
  outcome: Outcome,
  params: Record<string, string | undefined>,
): string {
  const target = config.redirectTargets[redirectTargetName(config, name)];
  const url = new URL(target?.[outcome] ?? '');
  for (const [key, value] of Object.entries(params))
    if (value !== undefined) url.searchParams.set(key, value);
  return url.toString();
}

/** The URLs we hand Terra; it appends user_id, resource and reference_id to them. */
export function callbackUrls(
  apiUrl: string,
  targetName: string,
): { success_url: string; failure_url: string } {
  const build = (outcome: Outcome) =>
    `${apiUrl}/callbacks/terra/${outcome}?${new URLSearchParams({ redirect: targetName }).toString()}`;
  return { success_url: build('success'), failure_url: build('failure') };
}
