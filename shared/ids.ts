import { createHash } from 'node:crypto';

/**
 * The shapes of the identifiers that cross our edges, defined once: request bodies, path parameters,
 * callbacks, configuration and the CDK context all validate against these.
 */

/** A Terra `user_id` as we accept it in a path or a callback (Terra's are UUIDs). */
export const TERRA_USER_ID = /^(?!\.+$)[A-Za-z0-9._:-]{1,128}$/;

/** A Terra provider id such as `GARMIN`, any case on input. */
export const PROVIDER_ID = /^[A-Za-z0-9_]{2,40}$/;

/** A configured redirect target name such as `web` or `ios`; never a URL. */
export const REDIRECT_TARGET = /^[a-z0-9_-]{1,32}$/;

/** A language code as Terra's widget takes it. */
export const LANGUAGE = /^[a-z]{2}(-[A-Za-z]{2})?$/;

/**
 * The caller's identity (the JWT claim that becomes Terra's reference_id): printable ASCII, no spaces or
 * control characters, bounded, and not dots alone (`.` and `..` are path segments wherever an identity
 * becomes part of a key). Anything else is refused at the edge with 401.
 */
export const APP_IDENTITY = /^(?!\.+$)[\x21-\x7e]{1,256}$/;

/**
 * A delivery id taken from `x-terra-trace-id`. Terra's are UUIDs, chunks `<id>:chunk:<n>`; `#` is
 * excluded so that our own reserved keys in the deliveries table (`reconcile#checkpoint`, `deletion#…`)
 * can never be addressed by a delivery.
 */
export const TRACE_ID = /^(?!\.+$)[A-Za-z0-9._:-]{1,200}$/;

/** A file or directory name's limit on the file systems a local archive lives on (ext4, APFS: 255 bytes). */
export const KEY_SEGMENT_MAX_BYTES = 255;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * An identifier as one segment of an archive key: URL-encoded, and a value of dots alone (`.`, `..`)
 * with its dots encoded too, so that no identifier, whatever its source, can be a path segment that a
 * file system (or anything normalising paths) reads as "here" or "up".
 *
 * Bounded, so that every identity the API accepts (256 characters, some encoding to three bytes) and
 * whatever a webhook names can be stored and deleted: a segment over `maxBytes`, or one that is not
 * well-formed UTF-16 (a lone surrogate, which `encodeURIComponent` refuses), becomes a readable prefix,
 * `=` and the SHA-256 of the whole value. `encodeURIComponent` always escapes `=`, so a bounded segment
 * never equals the plain segment of another identifier.
 */
export function keySegment(value: string, maxBytes = KEY_SEGMENT_MAX_BYTES): string {
  const wellFormed = value.replace(LONE_SURROGATE, '\uFFFD');
  const encoded = encodeURIComponent(wellFormed);
  const plain = /^\.+$/.test(encoded) ? encoded.replaceAll('.', '%2E') : encoded;
  if (wellFormed === value && plain.length <= maxBytes) return plain;
  // UTF-16 code units, so that a lone surrogate and U+FFFD hash apart.
  const hash = createHash('sha256').update(value, 'utf16le').digest('hex');
  // The encoding is ASCII, so characters are bytes; an escape cut in half is dropped.
  const prefix = encoded.slice(0, maxBytes - hash.length - 1).replace(/%[0-9A-F]?$/, '');
  return `${prefix}=${hash}`;
}

/** A segment `keySegment` bounded: it names its value only by hash, so it cannot be read back. */
export const isBoundedSegment = (segment: string): boolean => segment.includes('=');
