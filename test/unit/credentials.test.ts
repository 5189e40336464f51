import { describe, expect, it } from 'vitest';
import { ConfigError, type Env, SECTIONS } from '#shared/config';
import { extensionCredentials, SecretError } from '#shared/terra/credentials';
import { startAwsStandIn } from '../helpers/aws-stand-in.ts';

/**
 * The Terra secret, read in AWS through the Parameters and Secrets Lambda Extension: a local HTTP
 * endpoint, played here by the AWS stand-in on loopback (test/helpers/aws-stand-in.ts).
 */
const terraConfig = (env: Env) => SECTIONS.terra.read(env);
const webhookConfig = (env: Env) => SECTIONS.webhook.read(env);
const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:terra-connect/terra-AbCdEf';

/** The extension holding `value` as the secret's string, wanting `token`; each test stops its own. */
async function extension(value: string | Record<string, string>, token = 'tok') {
  const aws = await startAwsStandIn({ services: ['secrets-extension'], sessionToken: token });
  aws.secrets.set(ARN, typeof value === 'string' ? value : JSON.stringify(value));
  /** What the code asked for: the path and the token it sent. */
  const seen = () =>
    aws.calls.map((call) => ({ url: call.path, token: call.headers['x-aws-parameters-secrets-token'] }));
  return { aws, port: aws.port, seen };
}

describe('the Terra secret', () => {
  it('reads dev-id, API key and both signing secrets while rotating, with the session token', async () => {
    const ext = await extension({
      dev_id: 'dev',
      api_key: 'key',
      signing_secret: 'new',
      signing_secret_previous: 'old',
    });
    try {
      const read = extensionCredentials({ arn: ARN, maxAgeSeconds: 300, port: ext.port, token: 'tok' });
      expect(await read()).toEqual({ devId: 'dev', apiKey: 'key', signingSecrets: ['new', 'old'] });
      expect(ext.seen()).toEqual([
        { url: `/secretsmanager/get?secretId=${encodeURIComponent(ARN)}`, token: 'tok' },
      ]);
    } finally {
      await ext.aws.stop();
    }
  });

  it('gives up on an extension that does not answer within 2 s, with a SecretError', async () => {
    const ext = await extension({ dev_id: 'd', api_key: 'k', signing_secret: 's' });
    ext.aws.inject({ latencyMs: 60_000 });
    try {
      const read = extensionCredentials({ arn: ARN, maxAgeSeconds: 300, port: ext.port, token: 'tok' });
      const error = await read().catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(SecretError);
      expect((error as Error).message).toBe('The secrets extension did not answer in time.');
    } finally {
      await ext.aws.stop();
    }
  }, 10_000);

  it('is cached for its max age: one call to the extension for many reads, a new one after it', async () => {
    const ext = await extension({ dev_id: 'd', api_key: 'k', signing_secret: 'only' });
    try {
      let now = 1_000;
      const read = extensionCredentials(
        { arn: ARN, maxAgeSeconds: 60, port: ext.port, token: 'tok' },
        { now: () => now },
      );
      for (let i = 0; i < 5; i++) expect((await read()).signingSecrets).toEqual(['only']);
      expect(ext.seen()).toHaveLength(1);
      now += 61_000;
      await read();
      expect(ext.seen()).toHaveLength(2);
    } finally {
      await ext.aws.stop();
    }
  });

  it('names missing keys without echoing any value, and asks again next time', async () => {
    const ext = await extension({ dev_id: 'dev-value', api_key: 'key-value' });
    ext.aws.inject({ times: 1, error: { status: 500, code: 'InternalServerError' } });
    try {
      const read = extensionCredentials({ arn: ARN, maxAgeSeconds: 300, port: ext.port, token: 'tok' });
      await expect(read()).rejects.toThrow(/answered 500/);
      const error = await read().catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(SecretError);
      expect((error as Error).message).toContain('signing_secret');
      expect((error as Error).message).not.toContain('key-value');
      expect(ext.seen()).toHaveLength(2);
    } finally {
      await ext.aws.stop();
    }
  });

  it('refuses a secret that is not JSON', async () => {
    const ext = await extension('dev_id=x', 't');
    try {
      await expect(
        extensionCredentials({ arn: ARN, maxAgeSeconds: 0, port: ext.port, token: 't' })(),
      ).rejects.toThrow(/not JSON/);
    } finally {
      await ext.aws.stop();
    }
  });
});

describe('configuration with a secret', () => {
  it('needs no plain credentials when TERRA_SECRET_ARN is set', () => {
    expect(webhookConfig({ TERRA_SECRET_ARN: ARN }).secret).toEqual({
      arn: ARN,
      maxAgeSeconds: 300,
      port: 2773,
      token: '',
    });
    expect(
      terraConfig({
        TERRA_SECRET_ARN: ARN,
        TERRA_SECRET_MAX_AGE_SECONDS: '60',
        AWS_SESSION_TOKEN: 'session-token',
      }).secret,
    ).toEqual({ arn: ARN, maxAgeSeconds: 60, port: 2773, token: 'session-token' });
  });

  it('names both ways to provide credentials when neither is set', () => {
    expect(() => terraConfig({})).toThrow(ConfigError);
    expect(() => terraConfig({})).toThrow(/TERRA_DEV_ID is not set \(nor TERRA_SECRET_ARN\)/);
    expect(() => webhookConfig({ TERRA_SECRET_ARN: 'not-an-arn' })).toThrow(/TERRA_SECRET_ARN/);
  });
});
