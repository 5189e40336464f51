import type { AwsCredentials } from './sigv4.ts';

/** Lambda hands every function its role's credentials and region in the environment. */
export function lambdaCredentials(): AwsCredentials {
  return {
    accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? '',
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? '',
    sessionToken: process.env.AWS_SESSION_TOKEN,
  };
}

export const lambdaRegion = () => process.env.AWS_REGION ?? 'us-east-1';
