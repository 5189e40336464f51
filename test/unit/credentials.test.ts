import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, type Env, SECTIONS } from '#shared/config';
import { SecretError, secretCredentials } from '#shared/terra/credentials';

const terraConfig = (env: Env) => SECTIONS.terra.read(env);
const webhookConfig = (env: Env) => SECTIONS.webhook.read(env);

/** Secrets Manager has no local engine: it is the one AWS service mocked here. */
const secretsManager = mockClient(SecretsManagerClient);
const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:terra-connect/terra-AbCdEf';

const secrets = new Map<string, string>();
beforeEach(() => {
  secretsManager.reset();
  secrets.clear();
  // Input matchers do not match across the SDK's module copies under vitest; look the id up instead.
  secretsManager.on(GetSecretValueCommand).callsFake((input: { SecretId?: string }) => {
    const value = secrets.get(input.SecretId ?? '');
    if (value === undefined) throw new Error('ResourceNotFoundException');
    return { SecretString: value };
  });
});
afterAll(() => {
  secretsManager.restore();
});

// Powertools caches by secret id for the whole process, so each test reads its own secret.
function secretIs(arn: string, value: Record<string, string>): void {
  secrets.set(arn, JSON.stringify(value));
}

describe('the Terra secret', () => {
  it('reads dev-id, API key and both signing secrets while rotating', async () => {
    secretIs(ARN, { dev_id: 'dev', api_key: 'key', signing_secret: 'new', signing_secret_previous: 'old' });
    expect(await secretCredentials(ARN, 300)()).toEqual({
      devId: 'dev',
      apiKey: 'key',
      signingSecrets: ['new', 'old'],
    });
  });

  it('is cached for its max age: one Secrets Manager call for many reads', async () => {
    secretIs(`${ARN}-cached`, { dev_id: 'dev', api_key: 'key', signing_secret: 'only' });
    const read = secretCredentials(`${ARN}-cached`, 300);
    for (let i = 0; i < 5; i++) expect((await read()).signingSecrets).toEqual(['only']);
    expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('names missing keys without echoing any value', async () => {
    const other = `${ARN}-incomplete`;
    secretIs(other, { dev_id: 'dev-value', api_key: 'key-value' });
    const error = await secretCredentials(other, 0)().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SecretError);
    expect((error as Error).message).toContain('signing_secret');
    expect((error as Error).message).not.toContain('key-value');
  });
});

describe('configuration with a secret', () => {
  it('needs no plain credentials when TERRA_SECRET_ARN is set', () => {
    expect(webhookConfig({ TERRA_SECRET_ARN: ARN }).secret).toEqual({ arn: ARN, maxAgeSeconds: 300 });
    expect(terraConfig({ TERRA_SECRET_ARN: ARN, TERRA_SECRET_MAX_AGE_SECONDS: '60' }).secret).toEqual({
      arn: ARN,
      maxAgeSeconds: 60,
    });
  });

  it('names both ways to provide credentials when neither is set', () => {
    expect(() => terraConfig({})).toThrow(ConfigError);
    expect(() => terraConfig({})).toThrow(/TERRA_DEV_ID is not set \(nor TERRA_SECRET_ARN\)/);
    expect(() => webhookConfig({ TERRA_SECRET_ARN: 'not-an-arn' })).toThrow(/TERRA_SECRET_ARN/);
  });
});
