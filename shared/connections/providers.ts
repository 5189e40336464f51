import type { Provider, TerraPort } from './ports.ts';

/**
 * Sources that connect only through Terra's mobile SDK (`generateAuthToken` + `initConnection`), never a
 * web login. Terra marks them `setup: SDK` in its catalogue; this list is what code without the catalogue
 * (the webhook) and answers that leave `setup` out go by. Their `reference_id` is whatever the app on the
 * device passed, which is why an SDK connection names an app user only under that user's claim
 * (docs/architecture.md, "SDK connections").
 */
export const SDK_ONLY_PROVIDERS: ReadonlySet<string> = new Set([
  'APPLE',
  'SAMSUNG',
  'HEALTH_CONNECT',
  'GOOGLE_FIT_SDK',
]);

export const isSdkOnly = (provider: string | undefined): boolean =>
  provider !== undefined && SDK_ONLY_PROVIDERS.has(provider.toUpperCase());

/**
 * Terra's catalogue, enabled integrations only, cached per container: it changes when the team edits
 * its dashboard, not per request, and every `POST /connections` consults it.
 */
export class ProviderCatalogue {
  private cached: { at: number; providers: Provider[] } | undefined;

  constructor(
    private readonly terra: Pick<TerraPort, 'listProviders'>,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async list(): Promise<Provider[]> {
    const now = this.now();
    if (this.cached && now - this.cached.at < this.ttlMs) return this.cached.providers;
    const providers = await this.terra.listProviders();
    this.cached = { at: now, providers };
    return providers;
  }

  async find(provider: string): Promise<Provider | undefined> {
    return (await this.list()).find((entry) => entry.provider === provider.toUpperCase());
  }
}
