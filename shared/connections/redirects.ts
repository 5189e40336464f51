import type { CallbackUrls } from './ports.ts';

/**
 * Where the browser goes after Terra: only configured targets. The request names a target; an unknown
 * name falls back to the default; nothing a request carries is ever used as a URL.
 */
export type RedirectOutcome = 'success' | 'failure';

export interface RedirectSettings {
  /** Target name → the page (https URL or app deep link) per outcome; validated at start-up. */
  redirectTargets: Readonly<Record<string, { success: string; failure: string }>>;
  defaultRedirectTarget: string;
}

export function redirectTargetName(settings: RedirectSettings, name: string | undefined): string {
  return name !== undefined && Object.hasOwn(settings.redirectTargets, name)
    ? name
    : settings.defaultRedirectTarget;
}

export function redirectUrl(
  settings: RedirectSettings,
  name: string | undefined,
  outcome: RedirectOutcome,
  params: Record<string, string | undefined>,
): string {
  const target = settings.redirectTargets[redirectTargetName(settings, name)];
  const url = new URL(target?.[outcome] ?? '');
  for (const [key, value] of Object.entries(params))
    if (value !== undefined) url.searchParams.set(key, value);
  return url.toString();
}

/** The URLs we hand Terra; it appends user_id, resource and reference_id to them. */
export function callbackUrls(apiUrl: string, targetName: string): CallbackUrls {
  const build = (outcome: RedirectOutcome) =>
    `${apiUrl}/callbacks/terra/${outcome}?${new URLSearchParams({ redirect: targetName }).toString()}`;
  return { success_url: build('success'), failure_url: build('failure') };
}
