import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type SignatureCheck, signPayload, verifySignature } from '#shared/terra/signature';

// Terra's published test vector (secret `secret`, body `b`, t=10).
const VECTOR = {
  secret: 'secret',
  body: 'b',
  t: 10,
  v1: 'ad2da523c6d08e6ba4d8c36d86d5ca1f31f26992aabde11659556ced1d96509b',
};

const SECRET = 'whsec_current';
const NOW = 1_751_360_000;
const BODY = Buffer.from('{"type":"deauth","user":{"user_id":"40f7b0e1"}}');
const SIG = signPayload(SECRET, NOW, BODY);
const OTHER_SIG = signPayload('some-other-secret', NOW, BODY);

function verify(
  options: Partial<{
    header: string | undefined;
    rawBody: Buffer;
    secrets: readonly string[];
    nowSeconds: number;
    toleranceSeconds: number;
  }> = {},
): SignatureCheck {
  return verifySignature({
    header: `t=${NOW},v1=${SIG}`,
    rawBody: BODY,
    secrets: [SECRET],
    nowSeconds: NOW,
    toleranceSeconds: 300,
    ...options,
  });
}

describe('signPayload', () => {
  it("reproduces Terra's test vector", () => {
    expect(signPayload(VECTOR.secret, VECTOR.t, VECTOR.body)).toBe(VECTOR.v1);
  });

  it('signs the same bytes the same way whether given a string or a Buffer, a number or a string t', () => {
    expect(signPayload(VECTOR.secret, '10', Buffer.from(VECTOR.body))).toBe(VECTOR.v1);
  });
});

describe('verifySignature', () => {
  it("accepts Terra's test vector", () => {
    expect(
      verifySignature({
        header: `t=${VECTOR.t},v1=${VECTOR.v1}`,
        rawBody: Buffer.from(VECTOR.body),
        secrets: [VECTOR.secret],
        nowSeconds: 10,
        toleranceSeconds: 300,
      }),
    ).toEqual({ ok: true, timestamp: 10 });
  });

  it('accepts a correctly signed delivery and returns its timestamp', () => {
    expect(verify()).toEqual({ ok: true, timestamp: NOW });
  });

  it('rejects a signature made with another secret as a mismatch', () => {
    expect(verify({ header: `t=${NOW},v1=${OTHER_SIG}` })).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('rejects a valid signature replayed under a different timestamp', () => {
    expect(verify({ header: `t=${NOW + 1},v1=${SIG}`, nowSeconds: NOW + 1 })).toEqual({
      ok: false,
      reason: 'mismatch',
    });
  });

  describe('timestamp tolerance', () => {
    // The signature is valid for t = NOW; only the receiver's clock moves.
    it.each([
      ['exactly 300 s after', NOW + 300],
      ['exactly 300 s before', NOW - 300],
    ])('accepts a delivery signed %s now', (_, nowSeconds) => {
      expect(verify({ nowSeconds })).toEqual({ ok: true, timestamp: NOW });
    });

    it.each([
      ['301 s in the past', NOW + 301],
      ['301 s in the future', NOW - 301],
    ])('rejects a delivery signed %s as outside_tolerance', (_, nowSeconds) => {
      // The HMAC matched: the time is given back so the delivery can be quarantined, never applied.
      expect(verify({ nowSeconds })).toEqual({ ok: false, reason: 'outside_tolerance', timestamp: NOW });
    });

    it('uses the configured tolerance rather than a fixed 300 s', () => {
      expect(verify({ nowSeconds: NOW + 61, toleranceSeconds: 60 })).toEqual({
        ok: false,
        reason: 'outside_tolerance',
        timestamp: NOW,
      });
      expect(verify({ nowSeconds: NOW + 900, toleranceSeconds: 900 })).toEqual({ ok: true, timestamp: NOW });
    });
  });

  describe('several v1 values', () => {
    it('accepts the delivery when only the second v1 matches', () => {
      expect(verify({ header: `t=${NOW},v1=${OTHER_SIG},v1=${SIG}` })).toEqual({ ok: true, timestamp: NOW });
    });

    it('accepts the delivery when only the first v1 matches', () => {
      expect(verify({ header: `t=${NOW},v1=${SIG},v1=${OTHER_SIG}` })).toEqual({ ok: true, timestamp: NOW });
    });

    it('rejects the delivery when no v1 matches', () => {
      const third = signPayload('a-third-secret', NOW, BODY);
      expect(verify({ header: `t=${NOW},v1=${OTHER_SIG},v1=${third}` })).toEqual({
        ok: false,
        reason: 'mismatch',
      });
    });
  });

  describe('other schemes', () => {
    it('ignores a v0 even when it holds the right digest, so a header with only v0 has no_v1', () => {
      expect(verify({ header: `t=${NOW},v0=${SIG}` })).toEqual({ ok: false, reason: 'no_v1' });
    });

    it('accepts a correct v1 next to a bogus v0', () => {
      expect(verify({ header: `t=${NOW},v0=${'0'.repeat(64)},v1=${SIG}` })).toEqual({
        ok: true,
        timestamp: NOW,
      });
    });

    it('ignores unknown schemes and keys around a correct v1', () => {
      expect(verify({ header: `v2=abc,t=${NOW},scheme=hmac,v1=${SIG},v0=zz` })).toEqual({
        ok: true,
        timestamp: NOW,
      });
    });
  });

  describe('garbage headers', () => {
    it.each<[string, string | undefined]>([
      ['absent', undefined],
      ['empty', ''],
      ['only whitespace', '   '],
    ])('reports a header that is %s as missing', (_, header) => {
      expect(verify({ header })).toEqual({ ok: false, reason: 'missing' });
    });

    it.each([
      ['has no t', `v1=${SIG}`],
      ['has two t values', `t=${NOW},t=${NOW},v1=${SIG}`],
      ['has two different t values', `t=${NOW},v1=${SIG},t=${NOW + 1}`],
      ['has a non-numeric t', `t=abc,v1=${SIG}`],
      ['has a negative t', `t=-${NOW},v1=${SIG}`],
      ['has a fractional t', `t=${NOW}.5,v1=${SIG}`],
      ['has an empty t', `t=,v1=${SIG}`],
      ['has no key=value pair at all', 'garbage'],
      ['is only commas', ',,,'],
    ])('reports a header that %s as malformed', (_, header) => {
      expect(verify({ header })).toEqual({ ok: false, reason: 'malformed' });
    });

    it('reports a huge header as malformed, even with a correct signature in it', () => {
      const header = `t=${NOW},v1=${SIG},${'v0=ab,'.repeat(200_000)}`;
      expect(verify({ header })).toEqual({ ok: false, reason: 'malformed' });
    });

    it('accepts uppercase hex', () => {
      expect(verify({ header: `t=${NOW},v1=${SIG.toUpperCase()}` })).toEqual({ ok: true, timestamp: NOW });
    });

    it.each([
      ['one hex digit short', SIG.slice(0, 63)],
      ['one byte short', SIG.slice(0, 62)],
      ['one byte too long', `${SIG}00`],
      ['not hex', `${SIG.slice(0, 62)}zz`],
      ['empty', ''],
    ])('treats a v1 that is %s as no v1 at all', (_, v1) => {
      expect(verify({ header: `t=${NOW},v1=${v1}` })).toEqual({ ok: false, reason: 'no_v1' });
    });

    it('still verifies a correct v1 that sits next to a wrong-length one', () => {
      expect(verify({ header: `t=${NOW},v1=${SIG.slice(0, 62)},v1=${SIG}` })).toEqual({
        ok: true,
        timestamp: NOW,
      });
    });

    it('accepts a header of exactly 2048 characters', () => {
      const start = `t=${NOW},v1=${SIG},v0=`;
      const header = start + 'a'.repeat(2048 - start.length);
      expect(header).toHaveLength(2048);
      expect(verify({ header })).toEqual({ ok: true, timestamp: NOW });
      expect(verify({ header: `${header}a` })).toEqual({ ok: false, reason: 'malformed' });
    });

    it('ignores a fragment without "=", even one that starts like a key', () => {
      expect(verify({ header: `t=${NOW},v1=${SIG},t0,v1x` })).toEqual({ ok: true, timestamp: NOW });
    });

    it('looks at no more than eight v1 values', () => {
      const wrong = (count: number) => Array.from({ length: count }, () => `v1=${OTHER_SIG}`).join(',');
      expect(verify({ header: `t=${NOW},${wrong(7)},v1=${SIG}` })).toEqual({ ok: true, timestamp: NOW });
      expect(verify({ header: `t=${NOW},${wrong(8)},v1=${SIG}` })).toEqual({ ok: false, reason: 'mismatch' });
    });

    it('tolerates stray commas and spaces around the pairs', () => {
      expect(verify({ header: ` , t = ${NOW} ,, v1= ${SIG} , ` })).toEqual({ ok: true, timestamp: NOW });
    });
  });

  describe('secrets', () => {
    it('fails closed with no_secret when no secret is configured', () => {
      expect(verify({ secrets: [] })).toEqual({ ok: false, reason: 'no_secret' });
    });

    it('fails closed with no_secret when a configured secret is empty', () => {
      expect(verify({ secrets: [''] })).toEqual({ ok: false, reason: 'no_secret' });
      expect(verify({ secrets: [SECRET, ''] })).toEqual({ ok: false, reason: 'no_secret' });
    });

    it('reports no_secret before looking at the header', () => {
      expect(verify({ secrets: [], header: undefined })).toEqual({ ok: false, reason: 'no_secret' });
    });

    it('accepts a delivery signed with either of two secrets during a rotation', () => {
      const secrets = ['whsec_new', 'whsec_old'];
      for (const secret of secrets) {
        const header = `t=${NOW},v1=${signPayload(secret, NOW, BODY)}`;
        expect(verify({ header, secrets })).toEqual({ ok: true, timestamp: NOW });
      }
      expect(verify({ header: `t=${NOW},v1=${SIG}`, secrets })).toEqual({ ok: false, reason: 'mismatch' });
    });
  });

  describe('raw bytes', () => {
    // 0xff and 0xfe never occur in UTF-8 and 0xc3 0x28 is a broken two-byte sequence.
    const binary = Buffer.from([0x7b, 0xff, 0xfe, 0x00, 0xc3, 0x28, 0x22, 0x7d]);
    const binarySig = signPayload(SECRET, NOW, binary);

    it('verifies a body that is not valid UTF-8 over its exact bytes', () => {
      expect(() => new TextDecoder('utf-8', { fatal: true }).decode(binary)).toThrow();
      // Round-tripping through a string would change the bytes, and so the digest.
      expect(signPayload(SECRET, NOW, binary.toString('utf8'))).not.toBe(binarySig);
      expect(verify({ header: `t=${NOW},v1=${binarySig}`, rawBody: binary })).toEqual({
        ok: true,
        timestamp: NOW,
      });
    });

    it('verifies a body that arrived base64-encoded once it is decoded to bytes', () => {
      const base64 = binary.toString('base64');
      expect(verify({ header: `t=${NOW},v1=${binarySig}`, rawBody: Buffer.from(base64, 'base64') })).toEqual({
        ok: true,
        timestamp: NOW,
      });
      expect(verify({ header: `t=${NOW},v1=${binarySig}`, rawBody: Buffer.from(base64) })).toEqual({
        ok: false,
        reason: 'mismatch',
      });
    });

    it('rejects a body that differs by one byte as a mismatch', () => {
      const tampered = Buffer.from(binary);
      tampered[3] = 0x01;
      expect(verify({ header: `t=${NOW},v1=${binarySig}`, rawBody: tampered })).toEqual({
        ok: false,
        reason: 'mismatch',
      });
    });
  });

  describe('properties', () => {
    const secret = fc.string({ minLength: 1, maxLength: 64, unit: 'binary' });
    const timestamp = fc.integer({ min: 0, max: 4_102_444_800 });
    const tolerance = fc.integer({ min: 1, max: 3600 });

    it('verifies whatever signPayload signed, for any body, secret and timestamp within tolerance', () => {
      fc.assert(
        fc.property(
          fc.uint8Array({ maxLength: 4096 }),
          secret,
          timestamp,
          tolerance,
          fc.double({ min: -1, max: 1, noNaN: true }),
          (bytes, key, t, toleranceSeconds, skew) => {
            const rawBody = Buffer.from(bytes);
            const nowSeconds = t + Math.trunc(skew * toleranceSeconds);
            const header = `t=${t},v1=${signPayload(key, t, rawBody)}`;
            expect(
              verifySignature({ header, rawBody, secrets: [key], nowSeconds, toleranceSeconds }),
            ).toEqual({
              ok: true,
              timestamp: t,
            });
          },
        ),
      );
    });

    it('rejects any single-bit flip in the body as a mismatch', () => {
      fc.assert(
        fc.property(
          fc.uint8Array({ minLength: 1, maxLength: 4096 }),
          secret,
          timestamp,
          fc.nat(),
          fc.integer({ min: 0, max: 7 }),
          (bytes, key, t, position, bit) => {
            const body = Buffer.from(bytes);
            const header = `t=${t},v1=${signPayload(key, t, body)}`;
            const flipped = Buffer.from(body);
            const index = position % flipped.length;
            flipped[index] = (flipped[index] ?? 0) ^ (1 << bit);
            expect(
              verifySignature({
                header,
                rawBody: flipped,
                secrets: [key],
                nowSeconds: t,
                toleranceSeconds: 300,
              }),
            ).toEqual({ ok: false, reason: 'mismatch' });
          },
        ),
      );
    });
  });
});
