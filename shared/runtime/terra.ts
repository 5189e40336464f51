import { type Env, SECTIONS } from '#shared/config';
import type { TerraDeps } from '#shared/connections/flows';
import { ProviderCatalogue } from '#shared/connections/providers';
import type { RedirectSettings } from '#shared/connections/redirects';
import { logger } from '#shared/log';
import { TerraClient } from '#shared/terra/client';
import { credentialSource } from '#shared/terra/credentials';

/** Our Terra client for one handler, with its credentials (the secret in AWS, variables locally). */
export function terraClient(env: Env, options: { backoffBaseMs?: number } = {}): TerraClient {
  const config = SECTIONS.terra.read(env);
  const credentials = credentialSource(config.secret, () => ({
    devId: config.devId,
    apiKey: config.apiKey,
    signingSecrets: [],
  }));
  return new TerraClient({ ...config, credentials, ...options });
}

export function providerCatalogue(env: Env, terra: TerraClient): ProviderCatalogue {
  return new ProviderCatalogue(terra, SECTIONS.providers.read(env).providersCacheSeconds * 1000);
}

/**
 * Wiring for functions that talk to Terra: redirects only for those that hand Terra callback URLs.
 * Their bundles carry no DynamoDB client unless they ask for the store as well.
 */
export function terraDeps(
  env: Env,
  options: { redirects: boolean } = { redirects: true },
): TerraDeps & { publicApiUrl?: string | undefined } {
  const terra = terraClient(env);
  const connect = options.redirects ? SECTIONS.connect.read(env) : undefined;
  const redirects: RedirectSettings = connect ?? { redirectTargets: {}, defaultRedirectTarget: '' };
  return {
    terra,
    providers: providerCatalogue(env, terra),
    redirects,
    publicApiUrl: connect?.publicApiUrl,
    now: Date.now,
    log: logger,
  };
}
