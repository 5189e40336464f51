import * as z from 'zod/mini';
import type { SecretSource } from '#shared/config';
import { nodeHttp } from './http.ts';

/**
 * Terra's credentials: in AWS one Secrets Manager secret (JSON, see README "Deploy"), read through AWS's
 * Parameters and Secrets Lambda Extension and cached for `maxAgeSeconds`, so a rotated value arrives
 * without a deploy; locally, plain variables. Nothing here is ever logged.
 */
export interface TerraCredentials {
  devId: string;
  apiKey: string;
  /** One or two: the current signing secret and, while rotating, the previous one. */
  signingSecrets: string[];
}

export type CredentialSource = () => Promise<TerraCredentials>;

const present = z.string().check(z.trim(), z.minLength(1));
const secretValue = z.object({
  dev_id: present,
  api_key: present,
  signing_secret: present,
  signing_secret_previous: z.optional(z.string().check(z.trim())),
});

export class SecretError extends Error {
  override name = 'SecretError';
}

/** The secret's JSON value as credentials; a missing key is named, never a value. */
export function parseTerraSecret(value: unknown): TerraCredentials {
  const parsed = secretValue.safeParse(value);
  if (!parsed.success) {
    // Names the missing keys, never the values.
    const keys = parsed.error.issues.map((issue) => issue.path.map(String).join('.')).join(', ');
    throw new SecretError(`The Terra secret is missing or has invalid keys: ${keys}.`);
  }
  const { dev_id, api_key, signing_secret, signing_secret_previous } = parsed.data;
  return {
    devId: dev_id,
    apiKey: api_key,
    signingSecrets: signing_secret_previous ? [signing_secret, signing_secret_previous] : [signing_secret],
  };
}

/**
 * Through AWS's Parameters and Secrets Lambda Extension: a local HTTP endpoint with its own cache, so
 * the function needs no AWS SDK at all (docs/decisions/0017-secrets-through-the-extension.md). Cached
 * here too for `maxAgeSeconds`: a delivery should not cost even a loopback call.
 */
export function extensionCredentials(
  source: { arn: string; maxAgeSeconds: number; port: number; token: string },
  options: { now?: () => number } = {},
): CredentialSource {
  const now = options.now ?? Date.now;
  let cached: { at: number; value: Promise<TerraCredentials> } | undefined;
  const read = async (): Promise<TerraCredentials> => {
    // Node's http, not fetch: undici would load for this one loopback call (decision 0019).
    const { status, text: body } = await nodeHttp(
      `http://localhost:${source.port}/secretsmanager/get?secretId=${encodeURIComponent(source.arn)}`,
      {
        method: 'GET',
        headers: { 'X-Aws-Parameters-Secrets-Token': source.token },
        signal: AbortSignal.timeout(2_000),
      },
    ).catch((error: unknown) => {
      const timedOut =
        error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
      throw timedOut ? new SecretError('The secrets extension did not answer in time.') : error;
    });
    if (status !== 200) throw new SecretError(`The secrets extension answered ${status}.`);
    let value: unknown;
    try {
      value = JSON.parse((JSON.parse(body) as { SecretString?: string }).SecretString ?? '');
    } catch {
      throw new SecretError('The Terra secret is not JSON.');
    }
    return parseTerraSecret(value);
  };
  return () => {
    if (cached && now() - cached.at < source.maxAgeSeconds * 1000) return cached.value;
    const value = read();
    cached = { at: now(), value };
    // A failed read is not kept: the next delivery asks again.
    value.catch(() => {
      if (cached?.value === value) cached = undefined;
    });
    return value;
  };
}

export function fixedCredentials(credentials: TerraCredentials): CredentialSource {
  const frozen = Object.freeze({
    ...credentials,
    signingSecrets: Object.freeze([...credentials.signingSecrets]),
  });
  return async () => frozen as TerraCredentials;
}

/** The secret in AWS, plain variables locally: config has already checked that one of them is there. */
export function credentialSource(
  secret: SecretSource | undefined,
  fromEnv: () => TerraCredentials,
): CredentialSource {
  return secret ? extensionCredentials(secret) : fixedCredentials(fromEnv());
}
