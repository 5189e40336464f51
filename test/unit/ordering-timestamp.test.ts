import { describe, expect, it } from 'vitest';
import { parseOrderingTimestamp } from '#shared/webhooks/receive';

// 2025-07-01T09:02:33.891Z, the same instant in every unit Terra may send.
const MS = 1_751_360_553_891;

describe('parseOrderingTimestamp', () => {
  describe('epoch numbers', () => {
    it.each([
      ['seconds', '1751360553', 1_751_360_553_000],
      ['seconds with a fraction', '1751360553.891', MS],
      ['milliseconds', '1751360553891', MS],
      ['microseconds', '1751360553891234', MS],
      ['nanoseconds', '1751360553891234567', MS],
    ])('reads %s as epoch ms', (_, value, expected) => {
      expect(parseOrderingTimestamp(value)).toBe(expected);
    });

    it('rounds to the nearest millisecond rather than truncating', () => {
      expect(parseOrderingTimestamp('1751360553.8916')).toBe(MS + 1);
      expect(parseOrderingTimestamp('1751360553891.6')).toBe(MS + 1);
      expect(parseOrderingTimestamp('1751360553891600')).toBe(MS + 1);
      expect(parseOrderingTimestamp('1751360553891600000')).toBe(MS + 1);
    });

    // Each unit is told from the next by its size: 1e11 s is the year 5138, 1e11 ms is 1973.
    it.each([
      ['the largest seconds value', '99999999999', 99_999_999_999_000],
      ['the smallest milliseconds value', '100000000000', 100_000_000_000],
      ['the largest milliseconds value', '99999999999999', 99_999_999_999_999],
      ['the smallest microseconds value', '100000000000000', 100_000_000_000],
      ['a large microseconds value', '99999999999999000', 99_999_999_999_999],
      ['the smallest nanoseconds value', '100000000000000000', 100_000_000_000],
    ])('places %s in its unit', (_, value, expected) => {
      expect(parseOrderingTimestamp(value)).toBe(expected);
    });

    it('reads zero as the epoch', () => {
      expect(parseOrderingTimestamp('0')).toBe(0);
    });

    it('ignores padding around the number', () => {
      expect(parseOrderingTimestamp('  1751360553891 \t')).toBe(MS);
    });
  });

  describe('ISO-8601', () => {
    it.each([
      ['UTC with milliseconds', '2025-07-01T09:02:33.891Z', MS],
      ['an offset', '2025-07-01T11:02:33.891+02:00', MS],
      ['microseconds, as Terra writes them', '2025-07-01T09:02:33.891000+00:00', MS],
      ['padding around it', ' 2025-07-01T09:02:33.891Z ', MS],
      ['a date only', '2025-07-01', Date.UTC(2025, 6, 1)],
    ])('reads a timestamp with %s', (_, value, expected) => {
      expect(parseOrderingTimestamp(value)).toBe(expected);
    });
  });

  describe('anything else', () => {
    it.each([
      ['absent', undefined],
      ['empty', ''],
      ['blank', ' \t '],
      ['text', 'yesterday'],
      ['a negative number', '-1751360553'],
      ['a number with a trailing dot', '1751360553.'],
      ['a number followed by text', '1751360553abc'],
      ['text followed by a number', 'abc1751360553'],
      ['two numbers', '1751360553 1751360554'],
      ['hexadecimal', '0x68639c29'],
      ['an exponent', '1.751360553e9'],
      ['25 digits, past the last instant a Date can hold', '1'.repeat(25)],
      ['400 digits, past any number', '9'.repeat(400)],
    ])('is undefined when the header is %s', (_, value) => {
      expect(parseOrderingTimestamp(value)).toBeUndefined();
    });
  });
});

describe('parseOrderingTimestamp and text that is neither a number nor ISO-8601', () => {
  // Found by mutation testing: V8's Date.parse also reads legacy forms in local time ('-5' and '.5'
  // became 2001-05-01), which would have ordered the delivery by that date, not its signature time.
  it.each(['-5', '.5', '1.5.2', 'x 2025', '2025-07-01T09:02:33', 'July 1, 2025'])(
    'is undefined for %j, which is neither a number nor ISO-8601',
    (value) => {
      expect(parseOrderingTimestamp(value)).toBeUndefined();
    },
  );
});
