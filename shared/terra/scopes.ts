/** Terra's scope strings (`user.scopes`, `scopes_added`, `scopes_removed`): comma-separated lists. */

/** Parses a scope list, tolerating null, blanks and padding; sorted and without repeats. */
export function parseScopes(raw: string | null | undefined): string[] {
  if (!raw) return [];
  return [...new Set(raw.split(',').map((scope) => scope.trim()))].filter(Boolean).sort();
}

/** A full scope set when Terra sent one (`user.scopes`), undefined when it sent none. */
export function scopesIfGiven(raw: string | null | undefined): string[] | undefined {
  return raw === null || raw === undefined ? undefined : parseScopes(raw);
}
