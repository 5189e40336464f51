import { lambdaCredentials, lambdaRegion } from './aws-env.ts';
import { signRequest } from './sigv4.ts';

/**
 * Proof: a drop-in for `@aws-lambda-powertools/parameters/secrets`' `getSecret(name, {transform: 'json',
 * maxAge})` as one signed GetSecretValue call with the same per-container cache, so the bundle carries
 * neither Powertools Parameters nor `@aws-sdk/client-secrets-manager`.
 */
const cache = new Map<string, { value: unknown; until: number }>();

export async function getSecret(name: string, options: { transform?: 'json'; maxAge?: number } = {}) {
  const hit = cache.get(name);
  if (hit && hit.until > Date.now()) return hit.value;
  const region = lambdaRegion();
  const url = new URL(`https://secretsmanager.${region}.amazonaws.com/`);
  const body = JSON.stringify({ SecretId: name });
  const headers = signRequest({
    service: 'secretsmanager',
    region,
    method: 'POST',
    url,
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'secretsmanager.GetSecretValue',
    },
    body,
    credentials: lambdaCredentials(),
  });
  const response = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(2_000) });
  if (!response.ok) throw new Error(`Secrets Manager GetSecretValue answered ${response.status}`);
  const text = ((await response.json()) as { SecretString?: string }).SecretString ?? '';
  const value: unknown = options.transform === 'json' ? JSON.parse(text) : text;
  cache.set(name, { value, until: Date.now() + (options.maxAge ?? 5) * 1000 });
  return value;
}
