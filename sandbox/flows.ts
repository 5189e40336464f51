import { randomUUID } from 'node:crypto';

/**
 * Widget sessions and login flows: what happens between "the backend asked for a link" and "the user
 * approved or cancelled". A flow is one visit to one provider's login page, with the Terra user_id it will
 * produce: authenticateUser allocates that id up front (it is in the response), the widget when the user
 * picks a provider.
 */

/** Terra's widget links are valid for 900 s (`expires_in` in both widget APIs). */
export const SESSION_TTL_SECONDS = 900;

export interface Redirects {
  auth_success_redirect_url: string | null;
  auth_failure_redirect_url: string | null;
}

export interface WidgetSession extends Redirects {
  session_id: string;
  /** Only these providers are offered; null = every enabled non-SDK provider. */
  providers: string[] | null;
  language: string | null;
  reference_id: string | null;
  expires_at: number;
}

export interface LoginFlow extends Redirects {
  flow_id: string;
  user_id: string;
  provider: string;
  reference_id: string | null;
  language: string | null;
  widget_session_id: string | null;
  expires_at: number;
  state: 'open' | 'approved' | 'cancelled';
}

export type NewSession = Omit<WidgetSession, 'session_id' | 'expires_at'>;
export type NewFlow = Omit<LoginFlow, 'flow_id' | 'user_id' | 'expires_at' | 'state'>;

export class Flows {
  readonly #sessions = new Map<string, WidgetSession>();
  readonly #flows = new Map<string, LoginFlow>();

  createSession(params: NewSession, now = Date.now()): WidgetSession {
    this.#sweep(now);
    const session: WidgetSession = {
      ...params,
      session_id: randomUUID(),
      expires_at: now + SESSION_TTL_SECONDS * 1000,
    };
    this.#sessions.set(session.session_id, session);
    return session;
  }

  /** The session while it is valid; undefined when unknown or expired. */
  session(sessionId: string, now = Date.now()): WidgetSession | undefined {
    const session = this.#sessions.get(sessionId);
    return session && session.expires_at > now ? session : undefined;
  }

  startFlow(params: NewFlow, now = Date.now()): LoginFlow {
    this.#sweep(now);
    const flow: LoginFlow = {
      ...params,
      flow_id: randomUUID(),
      user_id: randomUUID(),
      expires_at: now + SESSION_TTL_SECONDS * 1000,
      state: 'open',
    };
    this.#flows.set(flow.flow_id, flow);
    return flow;
  }

  flow(flowId: string): LoginFlow | undefined {
    return this.#flows.get(flowId);
  }

  // Keeps a long-running sandbox from accumulating abandoned links forever.
  #sweep(now: number): void {
    for (const [id, session] of this.#sessions) if (session.expires_at <= now) this.#sessions.delete(id);
    for (const [id, flow] of this.#flows) if (flow.expires_at <= now) this.#flows.delete(id);
  }
}
