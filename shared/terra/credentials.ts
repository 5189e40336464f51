import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import * as z from 'zod';
import type { SecretSource } from '#shared/config';

/**
 * Terra's credentials: in AWS one Secrets Manager secret (JSON, see README "Deploy"), read through
 * Powertools Parameters and cached for `maxAgeSeconds`, so a rotated value arrives without a deploy;
 * locally, plain variables. Nothing here is ever logged.
 */
export interface TerraCredentials {
  devId: string;
  apiKey: string;
  /** One or two: the current signing secret and, while rotating, the previous one. */
  signingSecrets: string[];
}

export type CredentialSource = () => Promise<TerraCredentials>;

const secretValue = z.object({
  dev_id: z.string().trim().min(1),
  api_key: z.string().trim().min(1),
  signing_secret: z.string().trim().min(1),
  signing_secret_previous: z.string().trim().optional(),
});

export class SecretError extends Error {
  override name = 'SecretError';
}

export function secretCredentials(arn: string, maxAgeSeconds: number): CredentialSource {
  return async () => {
    const value = await getSecret(arn, { transform: 'json', maxAge: maxAgeSeconds });
    const parsed = secretValue.safeParse(value);
    if (!parsed.success) {
      // Names the missing keys, never the values.
      const keys = parsed.error.issues.map((issue) => issue.path.join('.')).join(', ');
      throw new SecretError(`The Terra secret is missing or has invalid keys: ${keys}.`);
    }
    const { dev_id, api_key, signing_secret, signing_secret_previous } = parsed.data;
    return {
      devId: dev_id,
      apiKey: api_key,
      signingSecrets: signing_secret_previous ? [signing_secret, signing_secret_previous] : [signing_secret],
    };
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
  return secret ? secretCredentials(secret.arn, secret.maxAgeSeconds) : fixedCredentials(fromEnv());
}
