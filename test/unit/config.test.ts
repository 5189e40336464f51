import { describe, expect, it } from 'vitest';
import { ConfigError, type Env, SECTIONS } from '#shared/config';

const webhookConfig = (env: Env) => SECTIONS.webhook.read(env);
const storeConfig = (env: Env) => SECTIONS.store.read(env);
const archiveConfig = (env: Env) => SECTIONS.archive.read(env);
const identityConfig = (env: Env) => SECTIONS.identity.read(env);

const WEBHOOK_ENV: Env = { TERRA_SIGNING_SECRET: 'whsec_current' };
const STORE_ENV: Env = { CONNECTIONS_TABLE: 'terra-connect-connections', INBOX_TABLE: 'terra-connect-inbox' };

/** Runs `read` expecting a ConfigError, and returns it so its message can be checked. */
function configError(read: () => unknown): ConfigError {
  try {
    read();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError, but the configuration was accepted');
}

describe('webhookConfig', () => {
  it('throws a ConfigError naming TERRA_SIGNING_SECRET, with an example, when it is missing', () => {
    const error = configError(() => webhookConfig({}));
    expect(error.name).toBe('ConfigError');
    expect(error.message).toContain('TERRA_SIGNING_SECRET is not set');
    expect(error.message).toContain('for example TERRA_SIGNING_SECRET=');
  });

  it('treats a blank TERRA_SIGNING_SECRET as missing', () => {
    expect(configError(() => webhookConfig({ TERRA_SIGNING_SECRET: '   ' })).message).toContain(
      'TERRA_SIGNING_SECRET is not set',
    );
  });

  it('reads one signing secret', () => {
    expect(webhookConfig(WEBHOOK_ENV).signingSecrets).toEqual(['whsec_current']);
  });

  it('reads the previous secret as well during a rotation, current first', () => {
    const config = webhookConfig({ ...WEBHOOK_ENV, TERRA_SIGNING_SECRET_PREVIOUS: 'whsec_previous' });
    expect(config.signingSecrets).toEqual(['whsec_current', 'whsec_previous']);
  });

  it('defaults the tolerance to 300 s, the lease to 15 s and the inbox TTL to 30 days', () => {
    expect(webhookConfig(WEBHOOK_ENV)).toEqual({
      signingSecrets: ['whsec_current'],
      secret: undefined,
      toleranceSeconds: 300,
    });
    expect(SECTIONS.inbox.read({})).toEqual({ leaseSeconds: 15, ttlDays: 30 });
  });

  it('reads numeric settings from their strings', () => {
    expect(webhookConfig({ ...WEBHOOK_ENV, WEBHOOK_TOLERANCE_SECONDS: '120' })).toMatchObject({
      toleranceSeconds: 120,
    });
    expect(SECTIONS.inbox.read({ INBOX_LEASE_SECONDS: '20', INBOX_TTL_DAYS: '7' })).toEqual({
      leaseSeconds: 20,
      ttlDays: 7,
    });
  });

  it.each(['abc', '0', '99999', '-5', '1.5'])(
    'rejects WEBHOOK_TOLERANCE_SECONDS=%s, naming the variable',
    (value) => {
      const error = configError(() => webhookConfig({ ...WEBHOOK_ENV, WEBHOOK_TOLERANCE_SECONDS: value }));
      expect(error.message).toContain('WEBHOOK_TOLERANCE_SECONDS is invalid');
      expect(error.message).toContain('for example WEBHOOK_TOLERANCE_SECONDS=300');
    },
  );

  it.each([
    ['INBOX_LEASE_SECONDS', 'abc'],
    ['INBOX_LEASE_SECONDS', '0'],
    ['INBOX_TTL_DAYS', '0'],
    ['INBOX_TTL_DAYS', 'forever'],
  ])('rejects %s=%s, naming the variable', (name, value) => {
    expect(configError(() => SECTIONS.inbox.read({ [name]: value })).message).toContain(`${name} is invalid`);
  });

  it('does not need the store or archive settings', () => {
    expect(() => webhookConfig(WEBHOOK_ENV)).not.toThrow();
  });

  it('reads the env it is given each time rather than a cached one', () => {
    expect(webhookConfig({ ...WEBHOOK_ENV, WEBHOOK_TOLERANCE_SECONDS: '100' }).toleranceSeconds).toBe(100);
    expect(webhookConfig({ ...WEBHOOK_ENV, WEBHOOK_TOLERANCE_SECONDS: '200' }).toleranceSeconds).toBe(200);
  });
});

describe('storeConfig', () => {
  it('reads the table names and leaves the endpoint unset by default', () => {
    expect(storeConfig(STORE_ENV)).toEqual({
      connectionsTable: 'terra-connect-connections',
      inboxTable: 'terra-connect-inbox',
      dynamoEndpoint: undefined,
    });
  });

  it('names every missing table in one error', () => {
    const error = configError(() => storeConfig({}));
    expect(error.message).toContain('CONNECTIONS_TABLE is not set');
    expect(error.message).toContain('INBOX_TABLE is not set');
  });

  it('does not need the signing secret', () => {
    expect(() => storeConfig(STORE_ENV)).not.toThrow();
  });

  it('reads a DYNAMODB_ENDPOINT URL', () => {
    expect(storeConfig({ ...STORE_ENV, DYNAMODB_ENDPOINT: 'http://127.0.0.1:8000' }).dynamoEndpoint).toBe(
      'http://127.0.0.1:8000',
    );
  });

  it('rejects a DYNAMODB_ENDPOINT that is not a URL, naming the variable', () => {
    const error = configError(() => storeConfig({ ...STORE_ENV, DYNAMODB_ENDPOINT: 'not a url' }));
    expect(error.message).toContain('DYNAMODB_ENDPOINT is invalid');
    expect(error.message).toContain('for example DYNAMODB_ENDPOINT=http://127.0.0.1:8000');
  });

  // `localhost:8000` parses as a URL whose scheme is `localhost:`; the SDK would only fail on first use.
  it('rejects a DYNAMODB_ENDPOINT without an http(s) scheme at start-up', () => {
    expect(
      configError(() => storeConfig({ ...STORE_ENV, DYNAMODB_ENDPOINT: 'localhost:8000' })).message,
    ).toContain('DYNAMODB_ENDPOINT');
  });
});

describe('archiveConfig', () => {
  it('reads an S3 bucket', () => {
    expect(archiveConfig({ ARCHIVE_BUCKET: 'my-terra-archive' })).toEqual({
      kind: 's3',
      bucket: 'my-terra-archive',
    });
  });

  it('reads a local directory', () => {
    expect(archiveConfig({ ARCHIVE_DIR: '.local/archive' })).toEqual({ kind: 'dir', dir: '.local/archive' });
  });

  it.each<[string, Env]>([
    ['neither', {}],
    ['both', { ARCHIVE_BUCKET: 'my-terra-archive', ARCHIVE_DIR: '.local/archive' }],
  ])('throws when %s of ARCHIVE_BUCKET and ARCHIVE_DIR is set, naming both', (_, env) => {
    const error = configError(() => archiveConfig(env));
    expect(error.message).toContain('ARCHIVE_BUCKET');
    expect(error.message).toContain('ARCHIVE_DIR');
  });
});

describe('identityConfig', () => {
  it("defaults the identity claim to 'sub'", () => {
    expect(identityConfig({})).toEqual({ claim: 'sub' });
  });

  it('reads IDENTITY_CLAIM', () => {
    expect(identityConfig({ IDENTITY_CLAIM: 'email' })).toEqual({ claim: 'email' });
  });
});

describe('frozen configuration', () => {
  it.each<[string, () => object]>([
    ['webhookConfig', () => webhookConfig(WEBHOOK_ENV)],
    ['storeConfig', () => storeConfig(STORE_ENV)],
    ['archiveConfig', () => archiveConfig({ ARCHIVE_DIR: '.local/archive' })],
    ['identityConfig', () => identityConfig({})],
  ])('%s returns a frozen object that cannot be changed', (_, read) => {
    const config = read();
    expect(Object.isFrozen(config)).toBe(true);
    expect(Reflect.set(config, 'extra', 'value')).toBe(false);
    expect(config).not.toHaveProperty('extra');
  });

  it('freezes the signing secret list too, so no caller can add a secret to it', () => {
    const config = webhookConfig(WEBHOOK_ENV);
    expect(Object.isFrozen(config.signingSecrets)).toBe(true);
  });
});

describe('configuration per function', () => {
  it('lets the reconcile start without REDIRECT_TARGETS: only the functions that hand Terra callback URLs read it', () => {
    const env: Env = { TERRA_DEV_ID: 'dev', TERRA_API_KEY: 'key', ...STORE_ENV };
    expect(() => SECTIONS.terra.read(env)).not.toThrow();
    expect(() => SECTIONS.store.read(env)).not.toThrow();
    expect(() => SECTIONS.connect.read(env)).toThrow(/REDIRECT_TARGETS is not set/);
  });

  it('reads payload downloads with S3 hosts only, and localhost only when allowed', () => {
    const config = SECTIONS.payload.read({});
    expect(config.allowedHosts).toContain('*.s3.*.amazonaws.com');
    expect(config.allowLocalhost).toBe(false);
    expect(SECTIONS.payload.read({ PAYLOAD_ALLOW_LOCALHOST: 'true' }).allowLocalhost).toBe(true);
    expect(configError(() => SECTIONS.payload.read({ PAYLOAD_ALLOW_LOCALHOST: 'yes' })).message).toContain(
      'PAYLOAD_ALLOW_LOCALHOST is invalid',
    );
  });
});

describe('backfill', () => {
  it('asks for every type Terra has a data endpoint for, and refuses one it has none for, naming them', () => {
    const every = 'activity,athlete,body,daily,menstruation,nutrition,sleep';
    expect(SECTIONS.backfill.read({ BACKFILL_TYPES: every }).types).toEqual(every.split(','));
    const message = configError(() => SECTIONS.backfill.read({ BACKFILL_TYPES: 'sleep,hormone' })).message;
    expect(message).toContain('BACKFILL_TYPES');
    expect(message).toContain(`no data endpoint for (one of ${every.split(',').join(', ')})`);
  });
});
