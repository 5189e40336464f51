import type { BackfillPlan, DataRequest } from '#shared/backfill/model';
import type { ConnectionEvent, ConnectionRecord } from './model.ts';

/**
 * What the connection use cases need from storage, in their own terms. `shared/store/connections.ts`
 * implements it on DynamoDB; nothing in `shared/connections/` knows how.
 */
export interface ConnectionRepository {
  /** The record of a Terra user, or undefined when there is none (or it was deleted). */
  get(user_id: string): Promise<ConnectionRecord | undefined>;
  /** Every record of an app user, terminal ones included. */
  listByReference(reference_id: string): Promise<ConnectionRecord[]>;
  /** The same, with each Terra user's backfill plan and data requests. */
  listOwned(
    reference_id: string,
  ): Promise<{ records: ConnectionRecord[]; plans: BackfillPlan[]; requests: DataRequest[] }>;
  /**
   * Applies events atomically (a reauth moves two records together) and answers each record after the
   * write; undefined for a Terra user that was deleted (deliberately absorbing: nothing revives it).
   */
  apply(events: readonly ConnectionEvent[]): Promise<Array<ConnectionRecord | undefined>>;
  /** One page of every record (the reconcile's sweep); pass `next` back for the following page. */
  scanPage(next?: string): Promise<{ records: ConnectionRecord[]; next?: string }>;
}

/**
 * Pending claims on SDK connections, one per app user (`POST /sdk-token` opens one): while it runs, an
 * SDK-only provider's Terra user may become that app user's. `shared/store/sdk-claims.ts` keeps them.
 */
export interface SdkClaims {
  /** Opens the app user's claim until `until` (epoch ms); never shortens a claim that runs longer. */
  open(reference_id: string, until: number): Promise<void>;
  /** Whether the app user holds a claim that runs past now. */
  live(reference_id: string): Promise<boolean>;
}

/** A Terra user as the domain sees it: what Terra says about one connection right now. */
export interface TerraUserInfo {
  user_id: string;
  provider: string;
  reference_id: string | null;
  /** The full scope set, when Terra sent one. */
  scopes?: string[];
  /** False when Terra reports the user's access as revoked. */
  active?: boolean;
}

/** What `GET /providers` answers for each connectable source. */
export interface Provider {
  provider: string;
  name: string;
  icon: string | null;
  types: string[];
  /** Only through Terra's mobile SDK (`POST /sdk-token`), never through a web login. */
  sdk_only: boolean;
}

export interface CallbackUrls {
  success_url: string;
  failure_url: string;
}

/** What the connect flows, the reconcile and the backfill ask of Terra; `shared/terra/client.ts` answers. */
export interface TerraPort {
  createWidgetSession(
    input: { reference_id: string; providers?: string[]; language?: string } & CallbackUrls,
  ): Promise<{ session_id: string; url: string; expires_in: number }>;
  authenticateUser(
    input: { resource: string; reference_id: string; language?: string } & CallbackUrls,
  ): Promise<{ user_id: string; auth_url: string }>;
  /** False when Terra does not know the user (already deauthenticated counts as done). */
  deauthenticateUser(user_id: string): Promise<boolean>;
  getUser(user_id: string): Promise<TerraUserInfo | undefined>;
  getUsersByReference(reference_id: string): Promise<TerraUserInfo[]>;
  listSubscriptions(
    page?: number,
    perPage?: number,
  ): Promise<{ users: TerraUserInfo[]; next: number | null }>;
  listProviders(): Promise<Provider[]>;
  generateAuthToken(): Promise<{ token: string; expires_in: number }>;
  /** Asks Terra to send a user's history to the webhook; answers Terra's request reference. */
  requestData(input: {
    type: string;
    user_id: string;
    start_date: string;
    end_date: string;
  }): Promise<{ reference: string; large: boolean }>;
}
