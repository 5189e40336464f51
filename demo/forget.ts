/**
 * What an app does with its own copies when it hears `terra.user_deleted`: everything it received about
 * that person before the deletion (their `terra.data` with its health data, `terra.connection`,
 * `terra.backfill`) is deleted, matched by `reference_id` and by the Terra `user_ids` the event lists,
 * since a payload that arrived before any record named an app user carries `reference_id: null`. The
 * `terra.user_deleted` event itself stays: it holds ids only, and says the deletion happened. What the
 * same identity receives after it (signed up again) is someone's new data and stays too.
 *
 * Pure, for the demo page (its feed is the app's copy) and for local mode's `GET /dev/events`.
 */
export function withoutDeletedPeople<Entry extends { envelope: { 'detail-type': string; detail: unknown } }>(
  entries: readonly Entry[],
): Entry[] {
  const references = new Set<string>();
  const users = new Set<string>();
  const kept: Entry[] = [];
  // Newest first, so that each deletion covers exactly what came before it.
  for (let i = entries.length - 1; i >= 0; i--) {
    const entry = entries[i];
    if (entry === undefined) continue;
    const detail = (entry.envelope.detail ?? {}) as {
      reference_id?: unknown;
      user_id?: unknown;
      user_ids?: unknown;
    };
    if (entry.envelope['detail-type'] === 'terra.user_deleted') {
      if (typeof detail.reference_id === 'string') references.add(detail.reference_id);
      if (Array.isArray(detail.user_ids))
        for (const id of detail.user_ids) if (typeof id === 'string') users.add(id);
      kept.push(entry);
      continue;
    }
    const about =
      (typeof detail.reference_id === 'string' && references.has(detail.reference_id)) ||
      (typeof detail.user_id === 'string' && users.has(detail.user_id));
    if (!about) kept.push(entry);
  }
  return kept.reverse();
}
