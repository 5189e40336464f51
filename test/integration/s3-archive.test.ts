import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpRequest } from '@smithy/core/protocols';
import S3rver from 's3rver';
// As a consumer imports it, through the package's exports.
import { type DataDetail, fromS3, payloadOf } from 'terra-connect/consumer';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SECTIONS } from '#shared/config';
import { keySegment } from '#shared/ids';
import { archiveOf, webhookDeps } from '#shared/runtime/webhook';
import { S3Archive } from '#shared/store/s3-archive';
import { S3Writer, s3Signer } from '#shared/store/s3-writer';
import {
  archiveKey,
  DirectoryArchive,
  eventIdOfKey,
  payloadKeyFor,
  referencePrefixes,
  userPrefixes,
} from '#shared/webhooks/archive';
import { dataEvent, terraUser } from '../helpers/terra-fixtures.ts';

/** The archive's S3 adapter against an S3 emulator (s3rver), the code path a deployed stack runs. */
const BUCKET = 'terra-archive-test';
let s3rver: S3rver;
let config: ConstructorParameters<typeof S3Archive>[1];
let archive: S3Archive;

beforeAll(async () => {
  s3rver = new S3rver({
    port: 0,
    address: '127.0.0.1',
    silent: true,
    directory: mkdtempSync(join(tmpdir(), 's3rver-')),
    configureBuckets: [{ name: BUCKET }],
  });
  const address = await s3rver.run();
  const port = typeof address === 'object' && address ? address.port : 0;
  config = {
    endpoint: `http://127.0.0.1:${port}`,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  };
  archive = new S3Archive(BUCKET, config);
});
afterAll(async () => {
  await s3rver?.close();
});

const keyFor = (user_id: string, event_id: string) =>
  archiveKey({
    zone: 'delivery',
    event_id,
    sha256: 'ab'.repeat(32),
    receivedAtMs: Date.UTC(2026, 11, 1),
    user_id,
  });

describe('archive key segments', () => {
  const bytes = (segment: string) => Buffer.byteLength(segment);

  it('keeps a short identifier as it has always been encoded, dots-only ones escaped', () => {
    expect(keySegment('40f7b0e1-89e2-43ac-a5b8-1e29c8d47cad')).toBe('40f7b0e1-89e2-43ac-a5b8-1e29c8d47cad');
    expect(keySegment('alice@example.com')).toBe('alice%40example.com');
    expect(keySegment('..')).toBe('%2E%2E');
    expect(keySegment('x'.repeat(255))).toBe('x'.repeat(255));
  });

  it.each([
    ['256 plain characters', 'a'.repeat(256)],
    ['256 characters that each encode to three', '%'.repeat(256)],
    ['a Terra user id of 128 colons', ':'.repeat(128)],
    ['256 dots', '.'.repeat(256)],
  ])('bounds %s within 255 bytes: a readable prefix and a hash of the whole', (_, identity) => {
    const segment = keySegment(identity);
    expect(bytes(segment)).toBeLessThanOrEqual(255);
    expect(segment).toMatch(/^[^/]+=[0-9a-f]{64}$/);
    expect(encodeURIComponent(identity).startsWith(segment.split('=')[0] ?? '')).toBe(true);
    // Another identity that shares the prefix gets its own segment.
    expect(keySegment(`${identity.slice(0, -1)}b`)).not.toBe(segment);
    // An identity spelled like the bounded segment is encoded, never equal to it ('=' is escaped).
    expect(keySegment(segment)).not.toBe(segment);
  });

  it('builds a key for an identity with a lone surrogate, apart from the same with U+FFFD', () => {
    const key = archiveKey({
      zone: 'delivery',
      event_id: 'trace-1',
      sha256: 'ab'.repeat(32),
      receivedAtMs: Date.UTC(2026, 11, 1),
      reference_id: '\uD83C',
    });
    expect(key.startsWith(referencePrefixes('\uD83C')[0] ?? '-')).toBe(true);
    expect(keySegment('\uD83C')).not.toBe(keySegment('\uFFFD'));
    expect(keySegment('a\uDC00b')).not.toBe(keySegment('a\uFFFDb'));
  });

  it('stores, finds by its user prefix and deletes a delivery of a 128-character user id and a 256-character identity', async () => {
    const user_id = ':'.repeat(128);
    const reference_id = '%'.repeat(256);
    const root = mkdtempSync(join(tmpdir(), 'terra-long-'));
    const local = new DirectoryArchive(root);
    const owners: Array<{ zone: 'delivery' | 'quarantine'; user_id?: string; reference_id: string }> = [
      { zone: 'delivery', user_id, reference_id },
      { zone: 'delivery', reference_id },
      { zone: 'quarantine', user_id, reference_id },
      { zone: 'quarantine', reference_id },
    ];
    const keys = owners.map(({ zone, ...owner }) =>
      archiveKey({
        zone,
        event_id: 'trace-1',
        sha256: 'ab'.repeat(32),
        receivedAtMs: Date.UTC(2026, 11, 1),
        ...owner,
      }),
    );
    for (const target of [local, archive]) {
      for (const key of keys) await target.put(key, Buffer.from('{}'));
      const prefixes = [...userPrefixes(user_id), ...referencePrefixes(reference_id)];
      const listed = (await Promise.all(prefixes.map((prefix) => target.list(prefix)))).flat();
      expect(listed.sort()).toEqual([...keys].sort());
      expect(listed.map(eventIdOfKey)).toEqual(listed.map(() => 'trace-1'));
      await target.delete(listed);
      for (const key of keys) expect(await target.get(key)).toBeUndefined();
    }
  });

  it('keeps the file name of an event id within 255 bytes', () => {
    const key = payloadKeyFor(keyFor('u', `a${':'.repeat(199)}`));
    expect(bytes(key.split('/').at(-1) ?? '')).toBeLessThanOrEqual(255);
  });

  it.each([150, 190, 200])(
    'writes, on disk, a payload of a %s-character trace id (its file name near 255 bytes)',
    async (n) => {
      const local = new DirectoryArchive(mkdtempSync(join(tmpdir(), 'terra-long-id-')));
      const key = payloadKeyFor(keyFor('u', 'a'.repeat(n)));
      await local.put(key, Buffer.from('{}'));
      expect(await local.get(key)).toEqual(Buffer.from('{}'));
      expect(await local.list('users/')).toEqual([key]);
    },
  );
});

describe('the S3 archive', () => {
  it('keeps a payload byte for byte, under its Terra user', async () => {
    const key = keyFor('user-s3-1', 'trace-1');
    const body = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]);
    await archive.put(key, body);
    expect(key.startsWith('users/user-s3-1/2026/12/01/')).toBe(true);
    expect(await archive.get(key)).toEqual(body);
  });

  it('stores a 10 MB payload (Terra chunks large requests up to 10 MB) and reads it back whole', async () => {
    const key = payloadKeyFor(keyFor('user-s3-2', 'trace-big'));
    const body = Buffer.alloc(10 * 1024 * 1024, 0x61);
    await archive.put(key, body);
    const back = await archive.get(key);
    expect(back?.length).toBe(body.length);
    expect(back?.equals(body)).toBe(true);
  });

  it('answers undefined for a key it does not hold', async () => {
    expect(await archive.get('users/nobody/2026/01/01/none.json')).toBeUndefined();
  });

  it("lists and deletes exactly a user's prefixes, leaving others alone", async () => {
    const mine = [
      keyFor('user-s3-3', 'a'),
      keyFor('user-s3-3', 'b'),
      'quarantine/user-s3-3/2026/12/01/c.json',
    ];
    const theirs = keyFor('user-s3-4', 'd');
    for (const key of [...mine, theirs]) await archive.put(key, Buffer.from('{}'));
    const listed = (
      await Promise.all(userPrefixes('user-s3-3').map((prefix) => archive.list(prefix)))
    ).flat();
    expect(listed.sort()).toEqual([...mine].sort());
    await archive.delete(listed);
    for (const key of mine) expect(await archive.get(key)).toBeUndefined();
    expect(await archive.get(theirs)).toEqual(Buffer.from('{}'));
  });

  it("gives a consumer the payload behind a terra.data event's claim check", async () => {
    const key = keyFor('user-s3-5', 'e');
    const sleep = dataEvent('sleep', { user: terraUser({ user_id: 'user-s3-5', provider: 'OURA' }) });
    await archive.put(key, Buffer.from(JSON.stringify(sleep)));
    const detail: DataDetail = {
      id: 'data:1',
      event_id: 'e',
      type: 'sleep',
      reference_id: 'alice',
      user_id: 'user-s3-5',
      provider: 'OURA',
      received_at: new Date().toISOString(),
      archive: { bucket: BUCKET, key },
      bytes: 40,
      backfill: false,
    };
    expect(await payloadOf(detail, fromS3(config ?? {}))).toEqual(sleep);
    const inline = dataEvent('daily');
    expect(await payloadOf({ ...detail, data: inline }, fromS3(config ?? {}))).toEqual(inline);
  });
});

describe("the webhook's S3 writer (the SDK's signer, no S3 client)", () => {
  const writer = () =>
    new S3Writer(BUCKET, {
      region: async () => 'us-east-1',
      credentials: async () => ({ accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }),
      endpoint: String(config?.endpoint),
    });

  it('writes an object S3 accepts as signed, byte for byte, under a key with characters to encode', async () => {
    const key = keyFor('user-w-1', 'trace:chunk:3');
    const body = Buffer.from(JSON.stringify({ type: 'daily', data: [{ note: 'café' }] }));
    await writer().put(key, body);
    expect(key).toContain('trace%3Achunk%3A3');
    expect(await archive.get(key)).toEqual(body);
  });

  it('takes back what it wrote', async () => {
    const key = keyFor('user-w-2', 'trace-w-2');
    await writer().put(key, Buffer.from('{}'));
    await writer().delete([key]);
    expect(await archive.get(key)).toBeUndefined();
  });

  it('is what the webhook is built with, and follows AWS_ENDPOINT_URL_S3 as the S3 client does', async () => {
    const env = {
      TERRA_SIGNING_SECRET: 'secret',
      CONNECTIONS_TABLE: 'connections',
      INBOX_TABLE: 'inbox',
      ARCHIVE_BUCKET: BUCKET,
      AWS_ENDPOINT_URL_S3: String(config?.endpoint),
    };
    // As in Lambda: credentials and region from the runtime's environment, through the SDK's chain.
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'S3RVER');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'S3RVER');
    vi.stubEnv('AWS_REGION', 'us-east-1');
    const deps = webhookDeps(env);
    expect(deps.archive).toBeInstanceOf(S3Writer);
    const key = keyFor('user-w-3', 'trace-w-3');
    await deps.archive.put(key, Buffer.from('{"via":"writer"}'));
    // Everything else that reads the archive, built from the same section, finds it there.
    const reader = archiveOf(SECTIONS.archive.read(env));
    expect(Buffer.from((await reader.get(key)) ?? []).toString()).toBe('{"via":"writer"}');
    vi.unstubAllEnvs();
  });

  // s3rver does not check SigV4 signatures, so the signer is held to AWS's own published example
  // ("Signature Calculations for the Authorization Header", GET Object with a Range header).
  it("signs exactly as AWS's published S3 example does", async () => {
    const signer = s3Signer('us-east-1', {
      accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
      secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    });
    const signed = await signer.sign(
      new HttpRequest({
        method: 'GET',
        protocol: 'https:',
        hostname: 'examplebucket.s3.amazonaws.com',
        path: '/test.txt',
        headers: {
          host: 'examplebucket.s3.amazonaws.com',
          range: 'bytes=0-9',
          'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
        },
      }),
      { signingDate: new Date('2013-05-24T00:00:00Z') },
    );
    expect(signed.headers.authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    );
  });
});
