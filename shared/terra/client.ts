import * as z from 'zod/mini';
import type { CallbackUrls, Provider, TerraPort, TerraUserInfo } from '#shared/connections/ports';
import { isSdkOnly } from '#shared/connections/providers';
import { DomainError } from '#shared/errors';
import { type HttpAnswer, nodeHttp } from './http.ts';
import { scopesIfGiven } from './scopes.ts';
import { presentOrNull, type TerraUser, terraUserSchema } from './user.ts';

/**
 * Our Terra client: the only code that knows Terra's HTTP. Thin on purpose (see README, "Terra client":
 * the official `terra-api` package costs more cold start than it saves). Every call carries `dev-id`,
 * `x-api-key` and JSON content type, runs under a per-attempt timeout and an overall deadline, retries
 * idempotent calls on 429/5xx/network errors with jittered backoff honouring `Retry-After`, validates
 * the response with zod, and turns every failure into one typed error carrying Terra's status.
 */

/** Terra failed us: it answered with an error or nonsense (`upstream_failed`), or not in time. */
export class TerraApiError extends DomainError {
  constructor(
    kind: 'upstream_failed' | 'upstream_timeout',
    code: string,
    message: string,
    readonly terraStatus?: number,
  ) {
    super(kind, code, message);
  }
}

export interface TerraClientOptions {
  apiUrl: string;
  widgetSessionUrl: string;
  widgetMode: 'widget-api' | 'legacy';
  /** Read per call: a cached secret, so a rotated key arrives without a redeploy. */
  credentials: () => Promise<{ devId: string; apiKey: string }>;
  timeoutMs: number;
  maxAttempts: number;
  deadlineMs: number;
  /** First backoff step without Retry-After (full jitter, doubling): short on request paths, longer off them. */
  backoffBaseMs?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

// z.object strips fields we do not pass on; looseObject keeps the ones we may read later.
const text = z.string().check(z.minLength(1));
const widgetSessionSchema = z.object({
  session_id: text,
  url: z.url(),
  expires_in: z._default(z.number().check(z.gte(0)), 900),
});
const authenticateSchema = z.object({ user_id: text, auth_url: z.url() });
const userInfoSchema = z.looseObject({ user: terraUserSchema });
const users = z.array(terraUserSchema);
// The spec answers a bare array; Terra's example code reads `{users}`; some answers wrap one `{user}`.
const usersByReferenceSchema = z.union([
  users,
  z.pipe(
    z.looseObject({ users }),
    z.transform((body) => body.users),
  ),
  z.pipe(
    z.looseObject({ user: terraUserSchema }),
    z.transform((body) => [body.user]),
  ),
]);
const subscriptionsSchema = z.union([
  z.pipe(
    z.looseObject({ users }),
    z.transform((body) => ({ users: body.users, next: null })),
  ),
  z.pipe(
    z.looseObject({ data: z.looseObject({ next: z.nullish(z.int()), results: users }) }),
    z.transform((body) => ({ users: body.data.results, next: body.data.next ?? null })),
  ),
]);
const integrationSchema = z.looseObject({
  provider: text,
  name: z.nullish(z.string()),
  icon: z.nullish(z.string()),
  setup: z.nullish(z.string()),
  enabled: z.nullish(z.boolean()),
  types: z.nullish(z.record(z.string(), z.nullish(z.boolean()))),
});
export type TerraIntegration = z.infer<typeof integrationSchema>;
const integrationsSchema = z.looseObject({ providers: z.array(integrationSchema) });
const authTokenSchema = z.object({ token: text, expires_in: z.number().check(z.gte(0)) });
const dataRequestSchema = z.looseObject({
  reference: z.optional(z.string().check(z.minLength(1), z.maxLength(256))),
  trace_id: z.optional(z.string().check(z.minLength(1), z.maxLength(256))),
  message: z.nullish(z.string()),
});

/** Terra's `TerraUser` → the domain's view of it. */
export function toUserInfo(user: TerraUser): TerraUserInfo {
  const info: TerraUserInfo = {
    user_id: user.user_id,
    provider: user.provider ?? 'UNKNOWN',
    reference_id: presentOrNull(user.reference_id),
  };
  const scopes = scopesIfGiven(user.scopes);
  if (scopes !== undefined) info.scopes = scopes;
  if (typeof user.active === 'boolean') info.active = user.active;
  return info;
}

/** An entry of Terra's `/integrations/detailed` → what `GET /providers` answers. */
export function toProvider(integration: TerraIntegration): Provider {
  return {
    provider: integration.provider,
    name: integration.name ?? integration.provider,
    icon: integration.icon ?? null,
    types: Object.entries(integration.types ?? {})
      .filter(([, available]) => available === true)
      .map(([type]) => type)
      .sort(),
    sdk_only: integration.setup?.toUpperCase() === 'SDK' || isSdkOnly(integration.provider),
  };
}

interface CallOptions<T> {
  method: 'GET' | 'POST' | 'DELETE';
  url: string;
  body?: unknown;
  schema: z.ZodMiniType<T>;
  /** Safe to repeat: retried on 5xx and network errors, not only on 429. */
  idempotent: boolean;
  /** Statuses that are answers, not failures (e.g. 404 on a lookup). */
  accept?: readonly number[];
}

type CallResult<T> = { status: number; value: T | undefined };

const RETRY_STATUSES = new Set([429, 500, 502, 503, 504]);

/** Terra's error bodies: RFC 9457 `{detail}` (2026) or `{message}` (older); text as a last resort. */
export function terraErrorDetail(text: string): string {
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    for (const key of ['detail', 'message', 'title', 'error']) {
      if (typeof body[key] === 'string' && body[key] !== '') return body[key];
    }
  } catch {
    // not JSON
  }
  const trimmed = text.trim().replace(/\s+/g, ' ');
  return trimmed === '' ? 'no detail' : trimmed.slice(0, 200);
}

/** Retry-After in ms: delta-seconds or an HTTP date. */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export class TerraClient implements TerraPort {
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(private readonly options: TerraClientOptions) {
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.random = options.random ?? Math.random;
  }

  async createWidgetSession(
    input: { reference_id: string; providers?: string[]; language?: string } & CallbackUrls,
  ): Promise<{ session_id: string; url: string; expires_in: number }> {
    const legacy = this.options.widgetMode === 'legacy';
    const body = {
      reference_id: input.reference_id,
      ...(input.providers?.length ? { providers: input.providers.join(',') } : {}),
      ...(input.language ? { language: input.language } : {}),
      auth_success_redirect_url: input.success_url,
      auth_failure_redirect_url: input.failure_url,
    };
    const url = legacy ? this.url('/auth/generateWidgetSession') : this.options.widgetSessionUrl;
    const result = await this.call({
      method: 'POST',
      url,
      body,
      schema: widgetSessionSchema,
      idempotent: false,
      accept: legacy ? [410] : [],
    });
    if (result.status === 410 || result.value === undefined) {
      throw new TerraApiError(
        'upstream_failed',
        'terra_legacy_widget_gone',
        "Terra answered 410 to the legacy generateWidgetSession endpoint: it is gone for accounts created after 2026-09-03. Set TERRA_WIDGET_MODE=widget-api to use Terra's widget session API.",
        410,
      );
    }
    return result.value;
  }

  async authenticateUser(
    input: { resource: string; reference_id: string; language?: string } & CallbackUrls,
  ): Promise<{ user_id: string; auth_url: string }> {
    const result = await this.call({
      method: 'POST',
      url: this.url('/auth/authenticateUser', { resource: input.resource }),
      body: {
        reference_id: input.reference_id,
        ...(input.language ? { language: input.language } : {}),
        auth_success_redirect_url: input.success_url,
        auth_failure_redirect_url: input.failure_url,
      },
      schema: authenticateSchema,
      idempotent: false,
    });
    return this.required(result, '/auth/authenticateUser');
  }

  /** Returns false when Terra does not know the user (already deauthenticated counts as done). */
  async deauthenticateUser(user_id: string): Promise<boolean> {
    const result = await this.call({
      method: 'DELETE',
      url: this.url('/auth/deauthenticateUser', { user_id }),
      schema: z.unknown(),
      idempotent: true,
      accept: [404],
    });
    return result.status !== 404;
  }

  async getUser(user_id: string): Promise<TerraUserInfo | undefined> {
    const result = await this.call({
      method: 'GET',
      url: this.url('/userInfo', { user_id }),
      schema: userInfoSchema,
      idempotent: true,
      accept: [404],
    });
    return result.value && toUserInfo(result.value.user);
  }

  async getUsersByReference(reference_id: string): Promise<TerraUserInfo[]> {
    const result = await this.call({
      method: 'GET',
      url: this.url('/userInfo', { reference_id }),
      schema: usersByReferenceSchema,
      idempotent: true,
      accept: [404],
    });
    return (result.value ?? []).map(toUserInfo);
  }

  /** One page of every Terra user of this developer account; `page` undefined asks for all at once. */
  async listSubscriptions(
    page?: number,
    per_page = 500,
  ): Promise<{ users: TerraUserInfo[]; next: number | null }> {
    const query: Record<string, string> =
      page === undefined ? {} : { page: String(page), per_page: String(per_page) };
    const result = await this.call({
      method: 'GET',
      url: this.url('/subscriptions', query),
      schema: subscriptionsSchema,
      idempotent: true,
    });
    const answer = this.required(result, '/subscriptions');
    return { users: answer.users.map(toUserInfo), next: answer.next };
  }

  /** Terra's catalogue, enabled integrations only. */
  async listProviders(): Promise<Provider[]> {
    const result = await this.call({
      method: 'GET',
      url: this.url('/integrations/detailed', { sdk: 'true' }),
      schema: integrationsSchema,
      idempotent: true,
    });
    return this.required(result, '/integrations/detailed')
      .providers.filter((integration) => integration.enabled !== false)
      .map(toProvider);
  }

  async generateAuthToken(): Promise<{ token: string; expires_in: number }> {
    const result = await this.call({
      method: 'POST',
      url: this.url('/auth/generateAuthToken'),
      schema: authTokenSchema,
      idempotent: false,
    });
    return this.required(result, '/auth/generateAuthToken');
  }

  /** `GET /<type>?user_id&start_date&end_date&to_webhook=true`: Terra sends the data to the webhook. */
  async requestData(input: {
    type: string;
    user_id: string;
    start_date: string;
    end_date: string;
  }): Promise<{ reference: string; large: boolean }> {
    const result = await this.call({
      method: 'GET',
      url: this.url(`/${encodeURIComponent(input.type)}`, {
        user_id: input.user_id,
        start_date: input.start_date,
        end_date: input.end_date,
        to_webhook: 'true',
      }),
      schema: dataRequestSchema,
      // Asking twice only sends the data twice, which consumers deduplicate: safe to retry.
      idempotent: true,
    });
    const body = this.required(result, `/${input.type}`);
    const reference = body.reference ?? body.trace_id;
    if (reference === undefined) {
      throw new TerraApiError(
        'upstream_failed',
        'terra_invalid_response',
        `Terra's answer to /${input.type} carried no reference.`,
      );
    }
    // Terra says so in `message` only for requests over a month, which it delivers in chunks.
    return { reference, large: /large request/i.test(body.message ?? '') };
  }

  private url(path: string, query: Record<string, string> = {}): string {
    const url = new URL(`${this.options.apiUrl}${path}`);
    for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
    return url.toString();
  }

  private required<T>(result: CallResult<T>, path: string): T {
    if (result.value === undefined) {
      throw new TerraApiError(
        'upstream_failed',
        'terra_error',
        `Terra answered ${result.status} to ${path}.`,
        result.status,
      );
    }
    return result.value;
  }

  private async call<T>(options: CallOptions<T>): Promise<CallResult<T>> {
    const path = new URL(options.url).pathname;
    const deadline = Date.now() + this.options.deadlineMs;
    const { devId, apiKey } = await this.options.credentials();
    for (let attempt = 1; ; attempt++) {
      const remaining = deadline - Date.now();
      const timeout = Math.min(this.options.timeoutMs, remaining);
      let response: HttpAnswer;
      try {
        response = await nodeHttp(options.url, {
          method: options.method,
          headers: {
            'dev-id': devId,
            'x-api-key': apiKey,
            'content-type': 'application/json',
            accept: 'application/json',
          },
          ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
          signal: AbortSignal.timeout(Math.max(1, timeout)),
        });
      } catch (error) {
        const timedOut =
          error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
        // A timed-out POST may have been applied at Terra: only idempotent calls are repeated.
        if (options.idempotent && (await this.backoff(attempt, deadline, undefined))) continue;
        if (timedOut) {
          throw new TerraApiError(
            'upstream_timeout',
            'terra_timeout',
            `Terra did not answer ${path} within ${timeout} ms.`,
          );
        }
        throw new TerraApiError(
          'upstream_failed',
          'terra_unreachable',
          `Terra could not be reached for ${path}.`,
        );
      }

      const { text } = response;
      const ok = response.status >= 200 && response.status < 300;
      if (ok || options.accept?.includes(response.status)) {
        if (!ok) return { status: response.status, value: undefined };
        let json: unknown;
        try {
          json = text === '' ? {} : JSON.parse(text);
        } catch {
          throw new TerraApiError(
            'upstream_failed',
            'terra_invalid_response',
            `Terra answered ${path} with a body that is not JSON.`,
            response.status,
          );
        }
        const parsed = options.schema.safeParse(json);
        if (!parsed.success) {
          const field = parsed.error.issues[0]?.path.join('.') || 'body';
          throw new TerraApiError(
            'upstream_failed',
            'terra_invalid_response',
            `Terra's answer to ${path} did not have the expected shape (field '${field}').`,
            response.status,
          );
        }
        return { status: response.status, value: parsed.data };
      }

      const retriable =
        RETRY_STATUSES.has(response.status) && (options.idempotent || response.status === 429);
      if (
        retriable &&
        (await this.backoff(attempt, deadline, retryAfterMs(response.header('retry-after') ?? null)))
      ) {
        continue;
      }
      throw new TerraApiError(
        'upstream_failed',
        'terra_error',
        `Terra answered ${response.status} to ${path}: ${terraErrorDetail(text)}`,
        response.status,
      );
    }
  }

  /** Waits before the next attempt; false when no attempt is left or the wait would pass the deadline. */
  private async backoff(attempt: number, deadline: number, retryAfter: number | undefined): Promise<boolean> {
    if (attempt >= this.options.maxAttempts) return false;
    // Full jitter on an exponential base, unless Terra told us how long to wait.
    const wait =
      retryAfter ?? Math.round(this.random() * (this.options.backoffBaseMs ?? 100) * 2 ** (attempt - 1));
    if (Date.now() + wait + 50 >= deadline) return false;
    await this.sleep(wait);
    return true;
  }
}
