/**
 * The sandbox's Terra users (connections). A user exists only once its login was approved; Terra deletes a
 * user on deauthentication and on reconnection of the same account, so `remove` really removes.
 */

/** `TerraUser` as Terra sends it in webhooks and `/subscriptions` (v2-bundled.yaml, components/schemas). */
export interface TerraUser {
  user_id: string;
  provider: string;
  last_webhook_update: string | null;
  scopes: string | null;
  reference_id: string | null;
  active: boolean;
  created_at: string | null;
}

/** What the sandbox keeps per user: the Terra fields plus what only the fake provider knows. */
export interface TerraUserRecord extends TerraUser {
  /** The account name typed on the fake provider login; reconnecting the same one is a reauth. */
  account: string;
  last_polled_at: string | null;
  most_recent_data_at: string | null;
}

/** Terra writes timestamps with microseconds and an explicit offset: 2026-07-01T09:12:33.891000+00:00. */
export function terraTime(date: Date = new Date()): string {
  return date.toISOString().replace(/Z$/, '000+00:00');
}

export function toTerraUser(record: TerraUserRecord): TerraUser {
  return {
    user_id: record.user_id,
    provider: record.provider,
    last_webhook_update: record.last_webhook_update,
    scopes: record.scopes,
    reference_id: record.reference_id,
    active: record.active,
    created_at: record.created_at,
  };
}

export interface NewConnection {
  user_id: string;
  provider: string;
  account: string;
  reference_id: string | null;
  scopes: string;
}

export class UserStore {
  // Insertion order is creation order, which is the order /subscriptions lists users in.
  readonly #users = new Map<string, TerraUserRecord>();

  /**
   * Creates the user. Terra allows one user per provider account and developer; with the design's rule that
   * the account counts as "the same" only under the same reference_id, the earlier user is deleted and
   * returned as `replaced` (the caller then sends `user_reauth`).
   */
  connect(
    connection: NewConnection,
    now: Date = new Date(),
  ): { user: TerraUserRecord; replaced?: TerraUserRecord } {
    const previous = this.sameAccount(connection);
    if (previous) this.#users.delete(previous.user_id);
    const user: TerraUserRecord = {
      user_id: connection.user_id,
      provider: connection.provider,
      last_webhook_update: null,
      scopes: connection.scopes,
      reference_id: connection.reference_id,
      active: true,
      created_at: terraTime(now),
      account: connection.account,
      last_polled_at: null,
      most_recent_data_at: null,
    };
    this.#users.set(user.user_id, user);
    return previous ? { user, replaced: { ...previous, active: false } } : { user };
  }

  /** The user `connect` would replace: the same provider account under the same reference_id. */
  sameAccount(
    connection: Pick<NewConnection, 'provider' | 'account' | 'reference_id'>,
  ): TerraUserRecord | undefined {
    return [...this.#users.values()].find(
      (user) =>
        user.account === connection.account &&
        user.provider === connection.provider &&
        user.reference_id === connection.reference_id,
    );
  }

  get size(): number {
    return this.#users.size;
  }

  get(userId: string): TerraUserRecord | undefined {
    return this.#users.get(userId);
  }

  update(userId: string, patch: Partial<Omit<TerraUserRecord, 'user_id'>>): TerraUserRecord | undefined {
    const user = this.#users.get(userId);
    if (!user) return undefined;
    Object.assign(user, patch);
    return user;
  }

  remove(userId: string): TerraUserRecord | undefined {
    const user = this.#users.get(userId);
    this.#users.delete(userId);
    return user;
  }

  list(): TerraUserRecord[] {
    return [...this.#users.values()];
  }

  byReference(referenceId: string): TerraUserRecord[] {
    return this.list().filter((user) => user.reference_id === referenceId);
  }
}
