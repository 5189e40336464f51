import type { Provider, TerraPort } from './ports.ts';

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
