/**
 * The Terra sandbox's own controls (local mode only, no credentials): make Terra send a webhook as if
 * the provider had done something, and read what it delivered. Real Terra has no such endpoints.
 */

import type { Delivery } from '#sandbox/delivery-record';

export type { Delivery };

/** What the demo panel can make happen to a connection. */
export const SANDBOX_EVENTS = [
  { type: 'connection_error', label: 'Connection error' },
  { type: 'access_revoked', label: 'Revoke access' },
  { type: 'activity', label: 'Send activity data' },
  // Over the sandbox's `s3PayloadThresholdBytes` (1 MB, as Terra): Terra sends an `s3_payload` link that
  // the webhook downloads; over EventBridge's 256 KB too, so the app's event carries only the claim check.
  { type: 'activity', label: 'Send large activity data (s3_payload)', bytes: 1_500_000 },
] as const satisfies ReadonlyArray<{ type: string; label: string; bytes?: number }>;

/** `bytes` pads a data event with samples to about that size. */
export async function fireEvent(
  sandboxUrl: string,
  userId: string,
  type: string,
  bytes?: number,
): Promise<void> {
  const response = await fetch(
    `${sandboxUrl}/sandbox/users/${encodeURIComponent(userId)}/events/${encodeURIComponent(type)}`,
    bytes === undefined
      ? { method: 'POST' }
      : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ bytes }) },
  );
  if (!response.ok) {
    const body = (await response.json().catch(() => ({}))) as { message?: string; detail?: string };
    throw new Error(body.detail ?? body.message ?? `the sandbox answered ${response.status}`);
  }
}

export async function recentDeliveries(sandboxUrl: string): Promise<Delivery[]> {
  const response = await fetch(`${sandboxUrl}/sandbox/deliveries`);
  if (!response.ok) throw new Error(`the sandbox answered ${response.status}`);
  return ((await response.json()) as { deliveries: Delivery[] }).deliveries;
}
