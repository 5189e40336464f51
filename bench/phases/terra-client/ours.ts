import { TerraClient } from '#shared/terra/client';

/** Our Terra client, constructed as a handler's wiring constructs it at cold start (bundled, imported). */
export const client = new TerraClient({
  apiUrl: 'https://access.tryterra.co/api/v2',
  widgetSessionUrl: 'https://access.tryterra.co/api/widget/session',
  widgetMode: 'widget-api',
  credentials: async () => ({ devId: 'dev-id', apiKey: 'api-key' }),
  timeoutMs: 2500,
  maxAttempts: 3,
  deadlineMs: 6000,
});
