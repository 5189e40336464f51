import { TerraClient } from 'terra-api';

/** Terra's official client, constructed the same way (bundled, imported). */
export const client = new TerraClient({
  devId: 'dev-id',
  apiKey: 'api-key',
  baseUrl: 'https://access.tryterra.co/api/v2',
});
