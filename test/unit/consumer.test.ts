import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fromDirectory, payloadOf } from '#shared/events/consumer';
import type { DataDetail } from '#shared/events/details';
import { DirectoryArchive } from '#shared/webhooks/archive';
import { dataEvent } from '../helpers/terra-fixtures.ts';

/** The consumer helper over local mode's archive: the pointer a `terra.data` event carries, read back. */
function detailFor(bucket: string, key: string): DataDetail {
  return {
    id: 'data:x',
    event_id: 'e-1',
    type: 'activity',
    reference_id: 'alice',
    user_id: 'u-1',
    provider: 'GARMIN',
    received_at: '2026-12-01T00:00:00.000Z',
    archive: { bucket, key },
    bytes: 10,
    backfill: false,
  };
}

describe('fromDirectory', () => {
  it('reads the payload a pointer names, as local mode archived it', async () => {
    const root = mkdtempSync(join(tmpdir(), 'terra-consumer-'));
    const key = 'users/u-1/2026/12/01/e-1.0123456789abcdef.json';
    const activity = dataEvent('activity');
    await new DirectoryArchive(root).put(key, Buffer.from(JSON.stringify(activity)));
    const payload = await payloadOf(detailFor(root, key), fromDirectory());
    expect(payload).toEqual(activity);
    expect(payload.user.user_id).toBe(activity.user.user_id);
  });

  it('says the payload is gone when it expired or was deleted', async () => {
    const root = mkdtempSync(join(tmpdir(), 'terra-consumer-'));
    await expect(payloadOf(detailFor(root, 'users/u-1/missing.json'), fromDirectory())).rejects.toThrow(
      /is gone/,
    );
  });

  it('refuses a pointer whose key climbs out of the archive or names a dot segment', async () => {
    const root = mkdtempSync(join(tmpdir(), 'terra-consumer-'));
    for (const key of ['../outside.json', 'users/../references/x.json', 'users/./u-1.json'])
      await expect(payloadOf(detailFor(root, key), fromDirectory())).rejects.toThrow(/archive key/);
  });
});

describe('payloadOf', () => {
  it('answers the inline payload without reading the archive', async () => {
    const sleep = dataEvent('sleep');
    const read = () => Promise.reject(new Error('the archive was read'));
    expect(await payloadOf({ ...detailFor('unused', 'users/u-1/x.json'), data: sleep }, read)).toEqual(sleep);
  });

  it('refuses what is not a Terra data payload, naming what it expected', async () => {
    const root = mkdtempSync(join(tmpdir(), 'terra-consumer-'));
    const key = 'users/u-1/2026/12/01/e-2.0123456789abcdef.json';
    await new DirectoryArchive(root).put(key, Buffer.from('{"steps":12}'));
    await expect(payloadOf(detailFor(root, key), fromDirectory())).rejects.toThrow(/user\.user_id/);
    await expect(
      payloadOf({ ...detailFor(root, key), data: { type: 'sleep', user: {} } }, fromDirectory()),
    ).rejects.toThrow(/not a Terra data payload/);
  });
});
