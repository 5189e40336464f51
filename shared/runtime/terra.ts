import { connectConfig, terraConfig } from '../config.ts';
import type { TerraDeps } from '../connections/connect.ts';
import { ProviderCatalogue } from '../connections/providers.ts';
import { logger } from '../log.ts';
import { TerraClient } from '../terra/client.ts';
import { credentialSource } from './credentials.ts';

/**
 * Wiring for functions that talk to Terra and to no table: their bundles carry no DynamoDB client.
 * Built once per container at import time, so a missing setting fails the cold start with its name.
 */
export function terraClient(): TerraClient {
  const config = terraConfig();
  const credentials = credentialSource(config.secret, () => ({
    devId: config.devId,
    apiKey: config.apiKey,
    signingSecrets: [],
  }));
  return new TerraClient({ ...config, credentials });
}

/** The provider cache lives as long as the container. */
export function terraDeps(): TerraDeps {
  const config = connectConfig();
  const terra = terraClient();
  return {
    terra,
    providers: new ProviderCatalogue(terra, config.providersCacheSeconds * 1000),
    config,
    now: Date.now,
    log: logger,
  };
}
