import type { TerraClient, TerraIntegration } from '../terra/client.ts';

/** What `GET /providers` answers for each connectable source. */
export interface Provider {
  provider: string;
  name: string;
  icon: string | null;
  types: string[];
  /** Only through Terra's mobile SDK (`POST /sdk-token`), never through a web login. */
  sdk_only: boolean;
}

// Terra marks these `setup: SDK`; the list is the fallback when an answer leaves `setup` out.
const SDK_ONLY = new Set(['APPLE', 'SAMSUNG', 'HEALTH_CONNECT', 'GOOGLE_FIT_SDK']);

function toProvider(integration: TerraIntegration): Provider {
  return {
    provider: integration.provider,
    name: integration.name ?? integration.provider,
    icon: integration.icon ?? null,
    types: Object.entries(integration.types ?? {})
      .filter(([, available]) => available === true)
      .map(([type]) => type)
      .sort(),
    sdk_only: integration.setup?.toUpperCase() === 'SDK' || SDK_ONLY.has(integration.provider.toUpperCase()),
  };
}

/**
 * Terra's catalogue, enabled integrations only, cached per container: it changes when the team edits
 * its dashboard, not per request, and every `POST /connections` consults it.
 */
export class ProviderCatalogue {
  private cached: { at: number; providers: Provider[] } | undefined;

  constructor(
    private readonly terra: TerraClient,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async list(): Promise<Provider[]> {
    const now = this.now();
    if (this.cached && now - this.cached.at < this.ttlMs) return this.cached.providers;
    const integrations = await this.terra.listIntegrations();
    const providers = integrations.filter((integration) => integration.enabled !== false).map(toProvider);
    this.cached = { at: now, providers };
    return providers;
  }

  async find(provider: string): Promise<Provider | undefined> {
    return (await this.list()).find((entry) => entry.provider === provider.toUpperCase());
  }
}
