import {
  type CredentialSource,
  fixedCredentials,
  secretCredentials,
  type TerraCredentials,
} from '../terra/credentials.ts';

/** The secret in AWS, plain variables locally: config has already checked that one of them is there. */
export function credentialSource(
  secret: { arn: string; maxAgeSeconds: number } | undefined,
  fromEnv: () => TerraCredentials,
): CredentialSource {
  return secret ? secretCredentials(secret.arn, secret.maxAgeSeconds) : fixedCredentials(fromEnv());
}
